"""The hop's loop acts on the watcher's last look at the cluster, never on a call of its own, nor on a stale look."""

from __future__ import annotations

import time
from typing import Any

from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import BROKER_DOWN, ClusterLook, Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings


class _Nothing:
    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        return []


class _Idle:
    """A consumer with nothing assigned; any call that would ask the cluster fails the test."""

    def assignment(self) -> list[Any]:
        return []

    def list_topics(self, *_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the loop must not ask the cluster itself")


def _hop() -> Hop:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x")
    hop = Hop(
        HopSpec("router", ["canon.formation.Positionnement"], ["deliver.imilo"]),
        _Nothing(),
        settings,
        ServiceMetrics("regard"),
    )
    hop._last_progress = time.monotonic()  # busy: no write probe
    return hop


def test_an_unreachable_cluster_sends_the_loop_to_a_new_consumer() -> None:
    hop = _hop()
    hop._look = ClusterLook(time.monotonic(), reachable=False)
    hop._maybe_check(_Idle())  # type: ignore[arg-type]
    assert hop._all_down.is_set()


def test_a_silent_leader_says_the_hop_waits_for_the_broker() -> None:
    hop = _hop()
    hop._look = ClusterLook(time.monotonic(), True, silent=frozenset({2}))
    hop._maybe_check(_Idle())  # type: ignore[arg-type]
    assert hop.trouble == BROKER_DOWN and not hop._all_down.is_set()


def test_a_good_look_clears_a_broker_trouble() -> None:
    hop = _hop()
    hop.trouble = BROKER_DOWN
    hop._look = ClusterLook(time.monotonic(), True)
    hop._maybe_check(_Idle())  # type: ignore[arg-type]
    assert hop.trouble is None


def test_a_look_taken_before_the_new_consumer_is_ignored() -> None:
    hop = _hop()
    hop._look = ClusterLook(time.monotonic(), reachable=False)
    hop._fresh_since = time.monotonic() + 1.0  # a new consumer came after that look
    hop._maybe_check(_Idle())  # type: ignore[arg-type]
    assert not hop._all_down.is_set()


def test_no_look_yet_means_nothing_is_decided() -> None:
    hop = _hop()
    hop.trouble = BROKER_DOWN
    hop._maybe_check(_Idle())  # type: ignore[arg-type]
    assert hop.trouble == BROKER_DOWN and not hop._all_down.is_set()
