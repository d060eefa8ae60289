"""What one batch did, counted in memory and flushed to Prometheus once per batch."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from passerelle.metrics import ServiceMetrics


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

    def flush(self, metrics: ServiceMetrics, service: str) -> None:
        """Everything the batch counted, into ``metrics``: one label lookup per series, not per message."""
        for (direction, partner, event, outcome), n in self.counts.items():
            metrics.messages.labels(service, direction, partner, event, outcome).inc(n)
        for (partner, reason), n in self.dlq.items():
            metrics.dlq.labels(service, partner, reason).inc(n)
        for (recipient, event), n in self.deliveries.items():
            metrics.deliveries.labels(recipient, event).inc(n)
        for (recipient, event), seconds in self.latencies.items():
            histogram = metrics.end_to_end.labels(recipient, event)
            for value in seconds:
                histogram.observe(value)
        now = time.time()
        for partner in self.heard:
            metrics.last_message.labels(partner).set(now)
