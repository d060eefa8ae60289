"""Topic names and the families they belong to (see the design brief's topic words).

Names are built here and nowhere else so a typo cannot create a stray topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

DAY_MS = 24 * 3600 * 1000
AUDIT_TOPIC = "audit.deliveries"
# Who replayed which dead letter from the console, when, and whether the body was edited: an audit question.
REPLAYS_TOPIC = "audit.rejeux"
SERVICES = ("milo_adapter", "region_adapter", "router", "indicators", "attente")


class Family(str, Enum):
    IN = "in"
    CANON = "canon"
    DELIVER = "deliver"
    OUT = "out"
    DLQ = "dlq"
    FEEDBACK = "feedback"
    AUDIT = "audit"
    INTERNAL = "_passerelle"


@dataclass(frozen=True)
class FamilyPolicy:
    partitions: int
    retention_ms: int  # -1 keeps forever
    doc: str


POLICIES: dict[Family, FamilyPolicy] = {
    Family.IN: FamilyPolicy(6, 7 * DAY_MS, "native messages as sent by a partner"),
    Family.CANON: FamilyPolicy(6, 400 * DAY_MS, "canonical Avro events; kept to rebuild the indicators"),
    Family.DELIVER: FamilyPolicy(6, 7 * DAY_MS, "canonical events per recipient, minimised to its view"),
    Family.OUT: FamilyPolicy(6, 7 * DAY_MS, "native messages as delivered to a partner"),
    Family.DLQ: FamilyPolicy(3, 30 * DAY_MS, "failed input with error headers, for inspection and replay"),
    Family.FEEDBACK: FamilyPolicy(3, 30 * DAY_MS, "readable errors back to the sender"),
    # One partition: the audit records form a single hash chain.
    Family.AUDIT: FamilyPolicy(1, -1, "one record per delivery, hash-chained"),
    Family.INTERNAL: FamilyPolicy(1, 3600 * 1000, "Passerelle's own: the probe of what the broker can do"),
}
# Each hop writes two tiny records here at start to learn whether the broker really implements transactions.
PROBE_TOPIC = "_passerelle.sonde"
# The contract registry's log (Passerelle's, Karapace or Confluent's): one partition, compacted, kept forever.
SCHEMAS_TOPIC = "_schemas"


def inbound(partner: str) -> str:
    return f"in.{partner}"


def canonical(subject: str) -> str:
    return f"canon.{subject}"


def deliver(partner: str) -> str:
    return f"deliver.{partner}"


def outbound(partner: str) -> str:
    return f"out.{partner}"


def dlq(service: str) -> str:
    return f"dlq.{service}"


def feedback(partner: str) -> str:
    return f"feedback.{partner}"


def family_of(topic: str) -> Family:
    head = topic.split(".", 1)[0]
    try:
        return Family(head)
    except ValueError:
        raise ValueError(f"topic hors des familles Passerelle : {topic!r}") from None


_PER_PARTNER = frozenset({Family.IN.value, Family.DELIVER.value, Family.OUT.value, Family.FEEDBACK.value})


def partner_of(topic: str) -> str | None:
    """The partner a per-partner topic belongs to (``in.region-24`` → ``region-24``); None for the others."""
    head, _, rest = topic.partition(".")
    return rest if head in _PER_PARTNER and rest else None


def sender_of(topic: str) -> str | None:
    """The partner that wrote a record of ``topic``: only ``in.<partner>`` is written by a partner."""
    return partner_of(topic) if topic.startswith("in.") else None


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    configs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, partitions: int | None = None) -> TopicSpec:
        policy = POLICIES[family_of(name)]
        return cls(name, partitions or policy.partitions, policy.retention_ms)

    def with_config(self, key: str, value: str) -> TopicSpec:
        return TopicSpec(self.name, self.partitions, self.retention_ms, {**self.configs, key: value})


def schemas_topic(name: str = SCHEMAS_TOPIC) -> TopicSpec:
    """The registry's log, as Confluent's and Karapace's create it: every fact's last record kept."""
    return TopicSpec(name, 1, -1, {"cleanup.policy": "compact"})


def all_topics(partners: Iterable[str], subjects: Iterable[str], services: Iterable[str] = SERVICES) -> list[TopicSpec]:
    """Every topic a deployment with these partners and contracts needs."""
    names: list[str] = []
    for partner in partners:
        names += [inbound(partner), deliver(partner), outbound(partner), feedback(partner)]
    names += [canonical(s) for s in subjects]
    names += [dlq(s) for s in services]
    names += [AUDIT_TOPIC, REPLAYS_TOPIC, PROBE_TOPIC]
    return [TopicSpec.of(n) for n in sorted(set(names))]
