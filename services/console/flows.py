"""The « Flux » page's figures: one row per partner and event, from the profiles and the scraped samples."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from passerelle.broker import topics
from passerelle.core.partners import PartnerProfile, Profiles
from services.console.sources import Sample

MESSAGES = "passerelle_messages_total"
DLQ = "passerelle_dlq_messages_total"
LAST_MESSAGE = "passerelle_partner_last_message_timestamp_seconds"
SILENCE_MAX = "passerelle_partner_silence_max_seconds"
LAG = "passerelle_consumer_lag_messages"
END_TO_END = "passerelle_end_to_end_latency_seconds_bucket"
DIRECTIONS = {"in": "publie", "out": "reçoit"}


@dataclass(frozen=True)
class Latency:
    """End-to-end delay estimated from the histogram's buckets, as Prometheus' histogram_quantile does.

    A quantile past the last finite bucket is that bucket's bound with its ``*_past`` flag: only « more than » is known.
    """

    count: int
    median_s: float
    p95_s: float
    median_past: bool = False
    p95_past: bool = False


@dataclass(frozen=True)
class FlowRow:
    partner: str
    direction: str  # "in" (the partner publishes) or "out" (it receives)
    event: str
    dialect: str
    messages: int
    refused: int
    lag: int | None = None  # messages waiting on the partner's topic (shared by its events); None: not exported
    latency: Latency | None = None  # only for deliveries: the histogram is observed at out.<partner>


@dataclass(frozen=True)
class PartnerState:
    partner: str
    name: str
    dlq: int
    last_message_s: float | None
    silence_max_s: float | None
    silent_for_s: float | None  # set only when the silence is longer than the profile allows
    waiting: int | None = None  # lag on in.<partner>: with a silence, Passerelle no longer reads what arrives

    @property
    def stuck(self) -> bool:
        """Silent too long while messages wait on its topic: the lag grew with nothing read, Passerelle's side."""
        return self.silent_for_s is not None and bool(self.waiting)


@dataclass(frozen=True)
class Flows:
    partners: tuple[PartnerState, ...]
    rows: tuple[FlowRow, ...]


def _message_counts(samples: Iterable[Sample]) -> dict[tuple[str, str, str, str], dict[str, float]]:
    """(direction, partner, event, outcome) → count per service."""
    counts: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in samples:
        if s.name == MESSAGES:
            key = (s.labels.get("direction", ""), s.labels.get("partner", ""), s.labels.get("event", ""))
            counts[(*key, s.labels.get("outcome", ""))][s.labels.get("service", "")] += s.value
    return counts


def _largest(per_service: dict[str, float] | None) -> int:
    # Each hop on the way counts the same message again; the first one sees them all, so the largest is the flow's.
    return int(max(per_service.values())) if per_service else 0


def lags(samples: Iterable[Sample]) -> dict[str, int]:
    """Messages waiting per topic: each partition's largest reading, summed; the group most behind if two read it."""
    per_partition: dict[tuple[str, str, str], float] = {}
    for s in samples:
        if s.name == LAG:
            key = (s.labels.get("service", ""), s.labels.get("topic", ""), s.labels.get("partition", ""))
            # A replica keeps the gauge of a partition it lost at a rebalance; the largest is the safe reading.
            per_partition[key] = max(per_partition.get(key, 0.0), s.value)
    per_group: dict[tuple[str, str], float] = defaultdict(float)
    for (service, topic, _), value in per_partition.items():
        per_group[(service, topic)] += value
    worst: dict[str, int] = {}
    for (_, topic), value in per_group.items():
        worst[topic] = max(worst.get(topic, 0), int(value))
    return worst


def _lag_of(partner: str, direction: str, by_topic: dict[str, int]) -> int | None:
    # A partner's messages wait on in.<partner>; what it receives waits on deliver.<partner>, then out.<partner>.
    names = [topics.inbound(partner)] if direction == "in" else [topics.deliver(partner), topics.outbound(partner)]
    found = [by_topic[n] for n in names if n in by_topic]
    return sum(found) if found else None


def _quantile(q: float, buckets: list[tuple[float, float]]) -> tuple[float, bool]:
    """The q-quantile of cumulative (upper bound, count) buckets, linear within a bucket; True when past the last."""
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == math.inf:
                return lower, True
            inside = cumulative - below
            return (lower + (bound - lower) * (rank - below) / inside if inside else bound), False
        lower, below = bound, cumulative
    return lower, True


def latencies(samples: Iterable[Sample]) -> dict[tuple[str, str], Latency]:
    """(partner, event) → median and p95 of passerelle_end_to_end_latency_seconds, every replica's buckets summed."""
    summed: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for s in samples:
        if s.name == END_TO_END and "le" in s.labels:
            key = (s.labels.get("partner", ""), s.labels.get("event", ""))
            summed[key][float(s.labels["le"])] += s.value
    out: dict[tuple[str, str], Latency] = {}
    for key, by_bound in summed.items():
        buckets = sorted(by_bound.items())
        if not buckets or buckets[-1][0] != math.inf or buckets[-1][1] <= 0:
            continue
        median, past_m = _quantile(0.5, buckets)
        p95, past_p = _quantile(0.95, buckets)
        out[key] = Latency(int(buckets[-1][1]), median, p95, past_m, past_p)
    return out


def _rows(
    profile: PartnerProfile,
    counts: dict[tuple[str, str, str, str], dict[str, float]],
    by_topic: dict[str, int],
    delays: dict[tuple[str, str], Latency],
) -> list[FlowRow]:
    flows = [("in", e, f.dialect.value) for e, f in profile.publishes.items()]
    flows += [("out", e, r.dialect.value) for e, r in profile.receives.items()]
    rows = []
    for direction, event, dialect in flows:
        outcomes = {o for (d, p, e, o) in counts if (d, p, e) == (direction, profile.id, event)}
        total = sum(_largest(counts.get((direction, profile.id, event, o))) for o in outcomes)
        refused = _largest(counts.get((direction, profile.id, event, "dlq")))
        lag = _lag_of(profile.id, direction, by_topic)
        latency = delays.get((profile.id, event)) if direction == "out" else None
        rows.append(FlowRow(profile.id, direction, event, dialect, total, refused, lag, latency))
    return rows


def _partner_state(
    profile: PartnerProfile, samples: list[Sample], now_s: float, by_topic: dict[str, int]
) -> PartnerState:
    mine = [s for s in samples if s.labels.get("partner") == profile.id]
    dlq = int(sum(s.value for s in mine if s.name == DLQ))
    last = max((s.value for s in mine if s.name == LAST_MESSAGE), default=None)
    allowed = max((s.value for s in mine if s.name == SILENCE_MAX), default=None)
    if allowed is None and profile.silence_max_hours is not None:  # no service exposes it yet: the profile says it
        allowed = float(profile.silence_max_hours * 3600)
    silent = now_s - last if last is not None and allowed is not None and now_s - last > allowed else None
    waiting = _lag_of(profile.id, "in", by_topic)
    return PartnerState(profile.id, profile.name, dlq, last, allowed, silent, waiting)


def flows(profiles: Profiles, samples: Iterable[Sample], now_s: float) -> Flows:
    listed = list(samples)
    counts = _message_counts(listed)
    by_topic = lags(listed)
    delays = latencies(listed)
    states = tuple(_partner_state(p, listed, now_s, by_topic) for p in profiles)
    rows = tuple(row for p in profiles for row in _rows(p, counts, by_topic, delays))
    return Flows(states, rows)
