"""``python -m bench.instructions [messages]``: each hop's translation in machine instructions per message.

The six hops of ``python -m bench translation``, on the same records, each counted by valgrind's cachegrind in a
child process, twice: once building the chain up to that hop, once building it and then translating every message
of the hop. The difference, divided by the messages, is the hop's translation in instructions. Unlike a time on a
machine shared with others, the count is the same from one run to the next, so it shows a change of a few per cent
that the timed benches cannot tell from their noise. It counts work, not its speed: cache misses and the cost of
each instruction are not in it (``python -m bench.sequence --count`` has them for the I-MILO hop).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.cachegrind import count, require_valgrind
from bench.one_hop import CHAINS
from bench.translation import bench_settings, each_hop, process_all
from passerelle.logging import configure
from passerelle.runtime.messages import Incoming
from passerelle.runtime.passes import Processor

STAGES = ("chain", "hop")
LABELS = [case.label for _native, _source, cases in CHAINS.values() for case in cases]


def _hop(label: str, n: int, folder: Path) -> tuple[Processor, list[Incoming]]:
    """The hop named ``label``, built as its service builds it, and its inputs: the previous hop's outputs."""
    for case, processor, messages in each_hop(bench_settings(folder), n):
        if case.label == label:
            return processor, messages
    raise SystemExit(f"saut inconnu : {label} (sauts : {', '.join(LABELS)})")


def run_stage(label: str, stage: str, n: int) -> None:
    """What a cachegrind child runs: the chain up to the hop, and with ``hop`` the hop's translation once."""
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        processor, messages = _hop(label, n, Path(folder))
        if stage == "hop":
            process_all(processor, messages)


def per_message(label: str, n: int) -> float:
    counts = {
        stage: count("bench.instructions", "--hop", label, "--stage", stage, str(n), caches=False) for stage in STAGES
    }
    return (counts["hop"]["I refs"] - counts["chain"]["I refs"]) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", nargs="?", type=int, default=2_000)
    parser.add_argument("--hop", choices=LABELS, help=argparse.SUPPRESS)
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure("console", "WARNING")
    if args.hop:
        run_stage(args.hop, args.stage or "chain", args.messages)
        return
    require_valgrind()
    print(f"cachegrind, {args.messages} messages par saut : instructions par message de la traduction")
    for label in LABELS:
        print(f"  {label:<45} {per_message(label, args.messages):>12,.0f}".replace(",", " "))


if __name__ == "__main__":
    main()
