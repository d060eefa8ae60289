"""Shared pieces of the benchmarks: an embedded broker, preloaded topics, and timed contenders.

Throughput is measured from the first record a contender receives to the
acknowledgement of its last output, so consumer-group joins and process
start-up do not count against anyone.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.topics import TopicSpec

RESULTS = Path(__file__).resolve().parent / "results"
Message = tuple[bytes | None, bytes, list[tuple[str, bytes]]]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: str | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""


@dataclass
class Report:
    title: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    @classmethod
    def on_broker(cls, suite: str, title: str, quick: bool, broker: str, transactions: bool = False) -> Report:
        """The report of a suite that runs on ``--broker``: its title says which broker, its command how to rerun."""
        where = "broker embarqué" if broker == "tansu" else "Apache Kafka, " + ("1 nœud" if quick else "3 nœuds")
        where += ", transactions" if transactions else ""
        command = f"python -m bench {suite}" + (" --quick" if quick else "") + f" --broker {broker}"
        return cls(f"{title} ({where})", command + (" --transactions" if transactions else ""))

    def save(self, slug: str) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{slug}.json"
        data = {"machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(self)}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
        return path


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


async def preload(
    access: KafkaAccess, topic: str, messages: Sequence[Message], partitions: int = 6, replication: int = 1
) -> None:
    spec = TopicSpec(topic, partitions, -1)
    await ensure_topics(access, [spec], replication_factor=replication, with_configs=False)
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=False, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key, headers=headers) for key, value, headers in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_passthrough(access: KafkaAccess, source: str, target: str, expected: int, group: str) -> float:
    """Baseline (a): aiokafka consume → produce with batches, one ack wait per batch, commit after."""
    consumer = AIOKafkaConsumer(
        source,
        **access.aiokafka(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    # acks=all, as the hops produce.
    producer = AIOKafkaProducer(
        **access.aiokafka(), enable_idempotence=False, linger_ms=5, max_batch_size=1 << 20, acks="all"
    )
    await consumer.start()
    await producer.start()
    try:
        done, first = 0, 0.0
        while done < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            if not batches:
                continue
            first = first or time.perf_counter()
            futures = []
            for records in batches.values():
                futures.extend(
                    [await producer.send(target, r.value, key=r.key, headers=list(r.headers)) for r in records]
                )
                done += len(records)
            await asyncio.gather(*futures)
            await consumer.commit()
        return expected / (time.perf_counter() - first)
    finally:
        await consumer.stop()
        await producer.stop()


# Past this, a baseline run is stuck, not slow: it says how far it got instead of waiting for ever.
NAIVE_LIMIT_S = 600.0


async def naive_faststream(access: KafkaAccess, source: str, target: str, expected: int, group: str) -> float:
    """Baseline (b): the handler FastStream's tutorial would write, awaiting each publish."""
    from faststream import AckPolicy
    from faststream.kafka import KafkaBroker, KafkaMessage

    broker = KafkaBroker(**access.faststream(), logger=None)
    state = {"n": 0, "first": 0.0, "last": 0.0}
    finished = asyncio.Event()

    @broker.subscriber(source, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK)
    async def handle(msg: KafkaMessage) -> None:
        # The raw bytes, as a passthrough must: a ``body: bytes`` argument would make FastStream parse JSON.
        state["first"] = state["first"] or time.perf_counter()
        raw = msg.raw_message
        key = None if isinstance(raw, tuple) else raw.key
        await broker.publish(msg.body, target, key=key, headers=dict(msg.headers))
        state["n"] += 1
        if state["n"] >= expected:
            state["last"] = time.perf_counter()
            finished.set()

    await broker.start()
    try:
        async with asyncio.timeout(NAIVE_LIMIT_S):
            await finished.wait()
    except TimeoutError:
        raise TimeoutError(f"FastStream naïf : {state['n']} messages sur {expected} en {NAIVE_LIMIT_S:.0f} s") from None
    finally:
        await broker.stop()
    return expected / (state["last"] - state["first"])


def confluent_passthrough(
    access: KafkaAccess, source: str, target: str, expected: int, group: str, transactional: bool = False
) -> float:
    """Baseline (c): librdkafka through confluent-kafka, consume → produce, commit after flush; with
    ``transactional``, each batch's outputs and offsets in one transaction, as the hops do on Apache Kafka."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    consumer = Consumer(
        {
            **access.librdkafka(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    config: dict[str, object] = {**access.librdkafka(), "linger.ms": 5, "acks": "all"}
    config |= {"transactional.id": f"bench-{group}"} if transactional else {"enable.idempotence": False}
    producer = Producer(config)
    if transactional:
        producer.init_transactions(30)
    consumer.subscribe([source])
    try:
        done, first = 0, 0.0
        while done < expected:
            records = consumer.consume(num_messages=2000, timeout=0.5)
            if not records:
                continue
            first = first or time.perf_counter()
            if transactional:
                producer.begin_transaction()
            last: dict[tuple[str, int], int] = {}
            for r in records:
                if r.error():
                    continue
                producer.produce(target, r.value(), key=r.key(), headers=r.headers())
                last[(str(r.topic()), int(r.partition() or 0))] = int(r.offset() or 0)
                done += 1
                producer.poll(0)
            if transactional:
                offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
                producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
                producer.commit_transaction(30)
                continue
            producer.flush()
            consumer.commit(asynchronous=False)
        return expected / (time.perf_counter() - first)
    finally:
        consumer.close()


def proc_status_mb(pid: int | str, key: str) -> float:
    """A memory line of /proc/<pid>/status (``VmRSS``, ``VmHWM``…) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")
