"""A consumer kept waiting on its group far past a join's length joins again as a new member."""

from __future__ import annotations

from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings


class _Nothing:
    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        return []


def _hop(session_ms: int) -> Hop:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x", consumer_session_timeout_ms=session_ms)
    spec = HopSpec("router", ["canon.formation.Positionnement"], ["deliver.imilo"])
    return Hop(spec, _Nothing(), settings, ServiceMetrics("adhesion"))


def test_a_join_is_stuck_only_past_its_limit_and_never_once_assigned() -> None:
    hop = _hop(3_000)
    assert not hop._join_stuck(1_000.0)  # not subscribed yet
    hop._joining_since = 1_000.0
    assert not hop._join_stuck(1_029.0)
    assert hop._join_stuck(1_031.0)
    hop._on_assign(None, [])  # type: ignore[arg-type]  # the callback reads neither argument
    assert not hop._join_stuck(5_000.0)
    assert hop.ready


def test_the_limit_grows_with_a_long_session_timeout() -> None:
    hop = _hop(45_000)  # Apache Kafka's default: a dead member holds the rebalance up to 45 s
    hop._joining_since = 0.0
    assert not hop._join_stuck(134.0)
    assert hop._join_stuck(136.0)
