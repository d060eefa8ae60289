"""A consumer about to be closed is polled until the rebalances queued for it have been served (librdkafka#4884)."""

from __future__ import annotations

import time
from typing import Any

from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings


class _Nothing:
    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        return []


class _Queued:
    """A consumer with rebalances queued: each poll serves the next one through the hop's callbacks, as librdkafka
    does, until none is left."""

    def __init__(self, hop: Hop, queued: list[str]) -> None:
        self.hop, self.queued, self.polls = hop, queued, 0

    def poll(self, _timeout: float) -> Any:
        self.polls += 1
        if self.queued:
            served = self.queued.pop(0)
            (self.hop._on_assign if served == "assign" else self.hop._on_revoke)(self, [])  # type: ignore[arg-type]
        return None


def _hop() -> Hop:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x")
    spec = HopSpec("router", ["canon.formation.Positionnement"], ["deliver.imilo"])
    return Hop(spec, _Nothing(), settings, ServiceMetrics("vidange"))


def test_every_queued_rebalance_is_served_before_the_close_then_three_quiet_polls() -> None:
    hop = _hop()
    consumer = _Queued(hop, ["revoke", "assign", "revoke"])
    hop._drain(consumer)  # type: ignore[arg-type]
    assert consumer.queued == [] and consumer.polls == 6


def test_a_consumer_with_nothing_queued_is_polled_three_times_only() -> None:
    hop = _hop()
    consumer = _Queued(hop, [])
    hop._drain(consumer)  # type: ignore[arg-type]
    assert consumer.polls == 3


def test_a_consumer_rebalancing_without_end_is_given_up_at_the_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr("passerelle.runtime.hop._DRAIN_S", 0.3)
    hop = _hop()
    consumer = _Queued(hop, [])
    consumer.poll = lambda _timeout: hop._on_revoke(consumer, [])  # type: ignore[arg-type, method-assign]
    started = time.monotonic()
    hop._drain(consumer)  # type: ignore[arg-type]
    assert 0.3 <= time.monotonic() - started < 10.0  # given up at its bound, not run on for ever
