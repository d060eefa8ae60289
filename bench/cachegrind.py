"""Counting what a piece of Python executes under valgrind's cachegrind: machine instructions, cache misses and
mispredicted branches, the same from run to run where times on a shared machine are not."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable

_COUNTS = r"I\s+refs|I1\s+misses|D\s+refs|D1\s+misses|LL\s+misses|Branches|Mispredicts"
_TOTALS = re.compile(rf"^==\d+== ({_COUNTS}):\s+([\d,]+)")


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind absent : apt-get install valgrind")


def count(module: str, *args: str, caches: bool = True) -> dict[str, int]:
    """The totals of ``python -m module args`` run under cachegrind (instructions only without ``caches``)."""
    with tempfile.TemporaryDirectory(prefix="passerelle-cg-") as folder:
        simulate = ["--cache-sim=yes", "--branch-sim=yes"] if caches else ["--cache-sim=no"]
        command = [
            "valgrind", "--tool=cachegrind", *simulate, f"--cachegrind-out-file={folder}/out",
            sys.executable, "-m", module, *args,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    return totals(done.stderr.splitlines())


def totals(lines: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        match = _TOTALS.match(line)
        if match:
            found[" ".join(match.group(1).split())] = int(match.group(2).replace(",", ""))
    return found
