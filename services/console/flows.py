"""The « Flux » page's figures: one row per partner and event, from the profiles and the scraped samples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from passerelle.core.partners import PartnerProfile, Profiles
from services.console.sources import Sample

MESSAGES = "passerelle_messages_total"
DLQ = "passerelle_dlq_messages_total"
LAST_MESSAGE = "passerelle_partner_last_message_timestamp_seconds"
SILENCE_MAX = "passerelle_partner_silence_max_seconds"
DIRECTIONS = {"in": "publie", "out": "reçoit"}


@dataclass(frozen=True)
class FlowRow:
    partner: str
    direction: str  # "in" (the partner publishes) or "out" (it receives)
    event: str
    dialect: str
    messages: int
    refused: int


@dataclass(frozen=True)
class PartnerState:
    partner: str
    name: str
    dlq: int
    last_message_s: float | None
    silence_max_s: float | None
    silent_for_s: float | None  # set only when the silence is longer than the profile allows


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


def _rows(profile: PartnerProfile, counts: dict[tuple[str, str, str, str], dict[str, float]]) -> list[FlowRow]:
    flows = [("in", e, f.dialect.value) for e, f in profile.publishes.items()]
    flows += [("out", e, r.dialect.value) for e, r in profile.receives.items()]
    rows = []
    for direction, event, dialect in flows:
        outcomes = {o for (d, p, e, o) in counts if (d, p, e) == (direction, profile.id, event)}
        total = sum(_largest(counts.get((direction, profile.id, event, o))) for o in outcomes)
        refused = _largest(counts.get((direction, profile.id, event, "dlq")))
        rows.append(FlowRow(profile.id, direction, event, dialect, total, refused))
    return rows


def _partner_state(profile: PartnerProfile, samples: list[Sample], now_s: float) -> PartnerState:
    mine = [s for s in samples if s.labels.get("partner") == profile.id]
    dlq = int(sum(s.value for s in mine if s.name == DLQ))
    last = max((s.value for s in mine if s.name == LAST_MESSAGE), default=None)
    allowed = max((s.value for s in mine if s.name == SILENCE_MAX), default=None)
    if allowed is None and profile.silence_max_hours is not None:  # no service exposes it yet: the profile says it
        allowed = float(profile.silence_max_hours * 3600)
    silent = now_s - last if last is not None and allowed is not None and now_s - last > allowed else None
    return PartnerState(profile.id, profile.name, dlq, last, allowed, silent)


def flows(profiles: Profiles, samples: Iterable[Sample], now_s: float) -> Flows:
    listed = list(samples)
    counts = _message_counts(listed)
    states = tuple(_partner_state(p, listed, now_s) for p in profiles)
    rows = tuple(row for p in profiles for row in _rows(p, counts))
    return Flows(states, rows)
