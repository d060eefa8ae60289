"""What one batch did, counted in memory and flushed to Prometheus once per batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Per-batch counts, flushed to Prometheus once per batch (label lookups are not free)."""

    counts: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    dlq: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, direction: str, partner: str, event: str, outcome: str, n: int = 1) -> None:
        self.counts[(direction, partner, event, outcome)] += n

    def rejected(self, partner: str, reason: str) -> None:
        self.dlq[(partner, reason)] += 1
