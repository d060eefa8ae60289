"""What one batch did, counted in memory and flushed to Prometheus once per batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Per-batch counts, flushed to Prometheus once per batch (label lookups are not free)."""

    counts: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    dlq: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Partners heard from in this batch: their last-message time is the batch's.
    heard: set[str] = field(default_factory=set)
    # (recipient, event) of each delivery.
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (recipient, event) → seconds from the sender's time to each delivery's rendering.
    latencies: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def count(self, direction: str, partner: str, event: str, outcome: str, n: int = 1) -> None:
        self.counts[(direction, partner, event, outcome)] += n

    def rejected(self, partner: str, reason: str) -> None:
        self.dlq[(partner, reason)] += 1

    def heard_from(self, partner: str) -> None:
        self.heard.add(partner)

    def delivered(self, recipient: str, event: str) -> None:
        self.deliveries[(recipient, event)] += 1

    def took(self, recipient: str, event: str, seconds: float) -> None:
        self.latencies.setdefault((recipient, event), []).append(seconds)
