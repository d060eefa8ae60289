"""``python -m bench.passes [messages]``: each hop's translation in its passes, against the same steps in two.

A hop runs its processor's ``read`` over a slice of its batch, then each step ``between`` over the slice, then
its ``write`` (``passerelle.runtime.passes``). Here each hop's processor runs on the same distinct inputs as in
``python -m bench translation``, once as it is and once with its steps between fused into ``write``, the
two-pass shape it had before: the same code and instructions, run in a different order. The two alternate in
one process, twelve times each, so that a machine busier in one minute than the next weighs on both alike.

``--slices 64 128 256`` compares instead the sizes of a slice (``passes.SLICE``), the same way.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.translation import bench_settings, each_hop, process_all
from passerelle.logging import configure
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.passes import InPasses, Processor, ReadThenWrite
from passerelle.runtime.tally import Tally

ROUNDS = 12


class Fused(ReadThenWrite):
    """A processor's steps between ``read`` and ``write`` run inside ``write``: two passes over each slice."""

    def __init__(self, inner: InPasses) -> None:
        self.inner = inner

    def read(self, message: Incoming, tally: Tally) -> Any:
        return self.inner.read(message, tally)

    def write(self, message: Incoming, read: Any, tally: Tally) -> list[Output]:
        for step in self.inner.between:
            read = step(message, read, tally)
        return self.inner.write(message, read, tally)


def alternated(first: Processor, second: Processor, messages: list[Incoming]) -> tuple[list[float], list[float]]:
    """µs per message of each processor over ``messages``, ``ROUNDS`` times each, one after the other."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(ROUNDS):
        for processor, kept in zip((first, second), times, strict=True):
            started = time.perf_counter()
            process_all(processor, messages)
            kept.append((time.perf_counter() - started) / len(messages) * 1e6)
    return times


def compare(n: int) -> None:
    print(f"{n} messages par saut, µs par message, {ROUNDS} passages alternés (minimum, médiane)")
    print(f"  {'saut':<44} {'deux passes':>16} {'ses passes':>16} {'écart (min.)':>13}")
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        for case, processor, messages in each_hop(bench_settings(Path(folder)), n):
            assert isinstance(processor, InPasses), case.label
            fused, own = alternated(Fused(processor), processor, messages)
            change = (min(own) / min(fused) - 1) * 100
            print(
                f"  {case.label:<44} {min(fused):7.1f} {statistics.median(fused):7.1f}"
                f"  {min(own):7.1f} {statistics.median(own):7.1f} {change:+12.0f} %"
            )


def slice_sizes(n: int, sizes: list[int]) -> None:
    """Each hop over the same inputs with each slice size in turn, ``ROUNDS`` times."""
    print(f"{n} messages par saut, µs par message selon la taille des tranches, minimum de {ROUNDS} passages alternés")
    print(f"  {'saut':<44}" + "".join(f"{size:>9}" for size in sizes))
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        for case, processor, messages in each_hop(bench_settings(Path(folder)), n):
            times: dict[int, list[float]] = {size: [] for size in sizes}
            for _ in range(ROUNDS):
                for size in sizes:
                    started = time.perf_counter()
                    process_all(processor, messages, size)
                    times[size].append((time.perf_counter() - started) / n * 1e6)
            print(f"  {case.label:<44}" + "".join(f"{min(times[size]):9.1f}" for size in sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", nargs="?", type=int, default=2_000)
    parser.add_argument("--slices", nargs="+", type=int, metavar="SIZE", help="compare these slice sizes instead")
    args = parser.parse_args()
    configure("console", "WARNING")
    if args.slices:
        slice_sizes(args.messages, args.slices)
    else:
        compare(args.messages)


if __name__ == "__main__":
    main()
