"""A batch translated in passes over slices of it: every input of a slice read, then every one written.

One message after another, a hop runs all of its translation's code for each message: the JSON reading, the
guards and the mapping, then the contract's validation, Avro and the envelope. That is more code than a core's
caches and branch predictors hold, so each step finds its code and data evicted by the others. Run as a pass over
a slice of messages, each step stays in cache: the I-MILO hop's translation takes a quarter less time in two
passes than message by message (``python -m bench.sequence``), and a quarter less again in four than in two
(``python -m bench.passes``), for the same instructions; figures in ``docs/performance.md``. A slice, not the
whole batch, is read first: its reads stay in cache for the passes after, and a batch of large messages (a piece
of an LHEO feed) never holds all of its reads at once.

A processor opts in by splitting its ``process`` into ``read`` and ``write``, with any passes ``between`` them
(the inbound adapter maps, then validates and encodes there); the others are run message by message. Either way
each input gets its outputs in input order, or the exception its own translation raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally

# Inputs read before any is written: from 128 up the I-MILO hop's four passes are the fastest
# (``python -m bench.passes --slices``).
SLICE = 128
# A slice ends sooner when its inputs weigh this much: a piece of an LHEO feed (512 KB) is read and written alone.
SLICE_BYTES = 256 * 1024


class Processor(Protocol):
    """The service-specific step: one input record to its outputs. Pure but for the tally.

    A processor that keeps state across records (the router's audit chain) may also define
    ``commit()`` and ``rollback()``, called once the batch's outputs are committed or lost.
    """

    def process(self, message: Incoming, tally: Tally) -> list[Output]: ...


Step = Callable[[Incoming, Any, Tally], Any]


@runtime_checkable
class InPasses(Protocol):
    """A processor whose ``process`` is its ``read``, then each step ``between`` in turn, then its ``write``, so
    that a slice can be run through each of them whole before the next.

    ``read`` holds the steps that parse an input (native reading, guards; or the envelope and Avro decoding),
    each step between takes what the one before it gave, and ``write`` produces the outputs. Nothing before
    ``write`` may depend on another input's ``write``: the router's audit chain, which does, advances in
    ``write``, in input order.
    """

    between: Sequence[Step]

    def process(self, message: Incoming, tally: Tally) -> list[Output]: ...

    def read(self, message: Incoming, tally: Tally) -> Any: ...

    def write(self, message: Incoming, read: Any, tally: Tally) -> list[Output]: ...


class ReadThenWrite:
    """What every processor in passes runs for one message, written once: its ``write`` of its steps ``between``
    of its ``read``. None between unless a processor names some."""

    between: Sequence[Step] = ()

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        read = self.read(message, tally)  # type: ignore[attr-defined]
        for step in self.between:
            read = step(message, read, tally)
        return self.write(message, read, tally)  # type: ignore[attr-defined,no-any-return]


@dataclass(frozen=True, slots=True)
class _Broken:
    error: Exception


def translate(
    processor: Processor, batch: Sequence[Incoming], tally: Tally, slice_size: int = SLICE
) -> Iterator[tuple[Incoming, list[Output] | Exception]]:
    """Each input of ``batch``, in order, with its outputs or the exception its translation raised (a bug in one
    input's translation must not lose the others'). ``slice_size`` is for the benchmark that chose ``SLICE``."""
    if not isinstance(processor, InPasses):
        for message in batch:
            try:
                yield message, processor.process(message, tally)
            except Exception as exc:  # noqa: BLE001  # the hop sends the input to the DLQ and logs the bug
                yield message, exc
        return
    for part in _slices(batch, slice_size):
        reads: list[Any] = []
        for message in part:
            try:
                reads.append(processor.read(message, tally))
            except Exception as exc:  # noqa: BLE001  # kept for the writing pass, in the input's place
                reads.append(_Broken(exc))
        for step in processor.between:
            for i, (message, read) in enumerate(zip(part, reads, strict=True)):
                if isinstance(read, _Broken):
                    continue
                try:
                    reads[i] = step(message, read, tally)
                except Exception as exc:  # noqa: BLE001  # as in the reading pass
                    reads[i] = _Broken(exc)
        for message, read in zip(part, reads, strict=True):
            if isinstance(read, _Broken):
                yield message, read.error
                continue
            try:
                yield message, processor.write(message, read, tally)
            except Exception as exc:  # noqa: BLE001  # the hop sends the input to the DLQ and logs the bug
                yield message, exc


def _slices(batch: Sequence[Incoming], slice_size: int) -> Iterator[Sequence[Incoming]]:
    start = size = 0
    for end, message in enumerate(batch, 1):
        size += len(message.value)
        if end - start == slice_size or size >= SLICE_BYTES:
            yield batch[start:end]
            start, size = end, 0
    if start < len(batch):
        yield batch[start:]
