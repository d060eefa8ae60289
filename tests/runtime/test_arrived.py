"""A hop takes what has arrived as soon as one record is there, never waiting to fill its batch."""

from __future__ import annotations

from typing import Any

from passerelle.runtime.hop import _arrived


class _Librdkafka:
    """consume(n, timeout) as librdkafka serves it: it returns before the timeout only once n records are there."""

    def __init__(self, queued: int, arriving: int = 0) -> None:
        self.queued, self.arriving, self.waited = queued, arriving, 0.0

    def consume(self, n: int, timeout: float) -> list[Any]:
        if self.queued < n and timeout > 0:
            self.waited += timeout
            self.queued += self.arriving
            self.arriving = 0
        taken = min(n, self.queued)
        self.queued -= taken
        return [object()] * taken


def test_records_already_there_are_taken_without_waiting_for_a_full_batch() -> None:
    consumer = _Librdkafka(queued=3)
    assert len(_arrived(consumer, 2000, 0.1)) == 3  # type: ignore[arg-type]
    assert consumer.waited == 0


def test_a_full_backlog_is_taken_up_to_the_batch_size() -> None:
    consumer = _Librdkafka(queued=5000)
    assert len(_arrived(consumer, 2000, 0.1)) == 2000  # type: ignore[arg-type]
    assert consumer.queued == 3000 and consumer.waited == 0


def test_an_idle_hop_waits_for_the_first_record_then_takes_what_came_with_it() -> None:
    consumer = _Librdkafka(queued=0, arriving=4)
    assert len(_arrived(consumer, 2000, 0.1)) == 4  # type: ignore[arg-type]
    assert consumer.waited == 0.1


def test_nothing_arriving_returns_nothing_after_the_wait() -> None:
    consumer = _Librdkafka(queued=0)
    assert _arrived(consumer, 2000, 0.1) == []  # type: ignore[arg-type]
    assert consumer.waited == 0.1


def test_a_batch_of_one_is_one_call() -> None:
    consumer = _Librdkafka(queued=3)
    assert len(_arrived(consumer, 1, 0.1)) == 1  # type: ignore[arg-type]
