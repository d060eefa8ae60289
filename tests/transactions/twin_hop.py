"""A hop in a process of its own, for the transaction tests: each input becomes one record on each of two
topics, slowly enough that a kill or a pause lands in the middle of a batch.

Run as ``python -m tests.transactions.twin_hop SOURCE LEFT RIGHT INSTANCE``, broker in PASSERELLE_KAFKA_BOOTSTRAP.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time

from passerelle.core.headers import CAUSE
from passerelle.logging import configure
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings

SERVICE = "jumeaux"


class Twin:
    def __init__(self, left: str, right: str, pause_s: float) -> None:
        self.left, self.right, self.pause_s = left, right, pause_s

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        time.sleep(self.pause_s)
        cause = [(CAUSE, message.dedupe_key.encode())]
        tally.count("in", "test", "test", "ok")
        return [
            Output(self.left, message.value, message.key, cause),
            Output(self.right, message.value, message.key, cause),
        ]


async def main(source: str, left: str, right: str, instance: str) -> None:
    configure("console", "WARNING")  # logs to stderr: stdout carries only what the test reads
    settings = Settings(instance_id=instance, batch_max_records=50, batch_timeout_ms=50)
    spec = HopSpec(SERVICE, [source], [left, right, f"dlq.{SERVICE}"])
    hop = Hop(spec, Twin(left, right, pause_s=0.004), settings, ServiceMetrics(SERVICE))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await hop.start()
    print(f"garantie={hop.guarantee.value if hop.guarantee else '?'}", flush=True)
    reported: str | None = None
    try:
        while not stop.is_set():
            if hop.trouble not in (None, "demarrage", reported):
                reported = hop.trouble
                print(f"etat={reported}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
    finally:
        await hop.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
