"""``python -m bench.hop_gaps [rate] [seconds]``: where a Positionnement's time goes between the hops, on Apache Kafka.

The whole stack on a 3-node cluster, as ``end_to_end`` runs it (target's guarantee: acks=all, idempotent
producer, offsets after the acknowledgements). At a low rate, a reader of its own notes each record's write time
(its Kafka timestamp, set when the hop produces it) on every topic of the I-MILO → Region chain, and when it could
read it. A hop's time is the next topic's write time less the previous one's; the delay before a record is
visible is the read time less its write time. The nodes' CPU meanwhile is summed by thread (request handling,
replication, the JIT compiler, the garbage collector). Then the hop's periodic health check is timed alone on the
same cluster (the metadata request and the silent-leader query it makes in the hop's loop every few seconds),
asked on a consumer that fetches and on the hop's lookout client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer

from bench.end_to_end import Session, Step, stat_cpu_seconds
from passerelle.broker.clients import consumer_config, lookout_config
from passerelle.runtime.hop import _silent_leaders
from passerelle.settings import Settings

CHAIN = ("in.imilo", "canon.formation.Positionnement", "deliver.region-24", "out.region-24")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _watch(consumer: AIOKafkaConsumer, seen: dict[str, dict[str, tuple[float, float]]]) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=100)
        now = time.time()
        for tp, records in batches.items():
            for record in records:
                headers = dict(record.headers)
                marker = (headers.get("correlation_id") or headers.get("ce_id") or b"").decode()
                seen[tp.topic][marker] = (record.timestamp / 1000, now)


def _health_check_ms(session: Session, on_consumer: bool, rounds: int = 20) -> tuple[list[float], list[float]]:
    """The hop's periodic checks timed alone, asked on a consumer of the hop's settings (as the hop did before)
    or on the hop's lookout client, while that consumer fetches."""
    settings = Settings(**session.broker.access.settings_fields(), pseudonym_secret="bench")
    consumer = Consumer(consumer_config(settings, "bench-controle", read_committed=False))
    consumer.subscribe(["in.imilo"])
    asked = consumer if on_consumer else Consumer(lookout_config(settings, "bench"))
    metadata, leaders = [], []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            cluster = asked.list_topics(timeout=2.0)
            listed = time.perf_counter()
            _silent_leaders(asked, cluster, set(CHAIN))
            metadata.append(listed - started)
            leaders.append(time.perf_counter() - listed)
            consumer.consume(1, 0.2)
    finally:
        consumer.close()
        if asked is not consumer:
            asked.close()
    return metadata, leaders


def _thread_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of every thread of the Kafka nodes, summed by the thread's name (its numbers dropped)."""
    spent: dict[str, float] = {}
    for pid in pids.values():
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                name = (task / "comm").read_text().strip().rstrip("0123456789-# ")
                spent[name] = spent.get(name, 0.0) + stat_cpu_seconds(task / "stat")
    return spent


async def main(rate: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-gaps-") as tmp:
        async with Session(Path(tmp), "kafka", False) as session:
            watcher = AIOKafkaConsumer(
                *CHAIN, **session.broker.access.aiokafka(), auto_offset_reset="latest", isolation_level="read_committed"
            )
            await watcher.start()
            while not watcher.assignment():
                await asyncio.sleep(0.05)
            for tp in watcher.assignment():
                await watcher.seek_to_end(tp)
                await watcher.position(tp)
            seen: dict[str, dict[str, tuple[float, float]]] = {topic: {} for topic in CHAIN}
            watching = asyncio.create_task(_watch(watcher, seen))
            step = Step(rate, seconds)
            threads_before, started = _thread_seconds(session.broker.pids), time.monotonic()
            await session.step(step, 5_000_000)
            threads_after = _thread_seconds(session.broker.pids)
            threads = {name: cpu - threads_before.get(name, 0.0) for name, cpu in threads_after.items()}
            elapsed = time.monotonic() - started
            await asyncio.sleep(3)
            watching.cancel()
            await watcher.stop()
            ends = [x for v in step.latencies.values() for x in v]
            print(
                f"{rate} msg/s pendant {seconds:.0f} s : de bout en bout p50 {_p(ends, 0.5):.0f} ms, "
                f"p99 {_p(ends, 0.99):.0f} ms"
            )
            for topic in CHAIN:
                visible = [read - written for written, read in seen[topic].values()]
                print(
                    f"  {topic} : lisible après écriture p50 {_p(visible, 0.5):.0f} ms, p99 {_p(visible, 0.99):.0f} ms"
                )
            ranked = sorted(threads.items(), key=lambda item: -item[1])[:6]
            busiest = ", ".join(f"{name} {100 * cpu / elapsed:.0f} %" for name, cpu in ranked)
            print(f"  CPU des nœuds Kafka par fil (% d'un cœur, trois nœuds ensemble) : {busiest}")
            for before, after in itertools.pairwise(CHAIN):
                gaps = [seen[after][k][0] - seen[before][k][0] for k in seen[after] if k in seen[before]]
                print(
                    f"  saut {before} → {after} : p50 {_p(gaps, 0.5):.0f} ms, p99 {_p(gaps, 0.99):.0f} ms ({len(gaps)})"
                )
            for on_consumer, where in ((True, "sur le consommateur"), (False, "sur la vigie du saut")):
                metadata, leaders = await asyncio.to_thread(_health_check_ms, session, on_consumer)
                print(
                    f"contrôle périodique {where} : métadonnées p50 {1000 * statistics.median(metadata):.0f} ms, "
                    f"leaders muets p50 {1000 * statistics.median(leaders):.0f} ms, max {1000 * max(leaders):.0f} ms"
                )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, float(sys.argv[2]) if len(sys.argv) > 2 else 15.0))
