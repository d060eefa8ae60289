"""The embedded broker's fetch wait: CPU with no traffic against latency at a low rate, per setting.

Tansu does not answer a waiting fetch when data arrives, so ``PASSERELLE_FETCH_MAX_WAIT_MS`` trades
latency for the CPU its polling costs; this measures both for a few values, each on a fresh broker.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.end_to_end import Session, Step, cpu_seconds, percentile
from bench.harness import Figure, Report

WAITS = (10, 25, 100, 500)


async def _one(wait_ms: int, folder: Path) -> tuple[float, float]:
    os.environ["PASSERELLE_FETCH_MAX_WAIT_MS"] = str(wait_ms)
    try:
        async with Session(folder, "tansu", quick=False) as session:
            pid = session.broker.pids["tansu"]
            await asyncio.sleep(2)
            before, started = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(5)
            idle = 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)
            step = Step(20, 5.0)
            await session.step(step, 5_000_000)
            return idle, 1000 * percentile(step.all_latencies(), 0.5)
    finally:
        os.environ.pop("PASSERELLE_FETCH_MAX_WAIT_MS", None)


async def _run(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        for wait_ms in WAITS:
            idle, p50 = await _one(wait_ms, Path(tmp))
            report.add(Figure(f"attente {wait_ms} ms : CPU du broker sans trafic", idle, "% d'un cœur"))
            report.add(Figure(f"attente {wait_ms} ms : latence p50 à 20 msg/s", p50, "ms"))


def run(quick: bool = False) -> Report:
    """Not part of --quick: four fresh brokers and their services take about two minutes."""
    report = Report("Attente des fetch sur le broker embarqué", "python -m bench fetch_wait")
    asyncio.run(_run(report))
    return report
