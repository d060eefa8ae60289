"""Exactly once on Apache Kafka: a hop killed in the middle of a transaction, and a paused instance that wakes
up after its successor took over, neither lose nor double anything for a read_committed reader."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from confluent_kafka import Producer

from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.reader import collect
from passerelle.broker.topics import PROBE_TOPIC, TopicSpec
from passerelle.core.headers import CAUSE

pytestmark = pytest.mark.kafka

N = 600


def _topics() -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"in.tx-{suffix}", f"canon.gauche-{suffix}", f"canon.droite-{suffix}"


async def _prepare(access: KafkaAccess, source: str, left: str, right: str) -> None:
    specs = [TopicSpec.of(source, 3), TopicSpec.of(left, 3), TopicSpec.of(right, 3)]
    await ensure_topics(access, [*specs, TopicSpec.of("dlq.jumeaux", 1), TopicSpec.of(PROBE_TOPIC)])
    producer = Producer({**access.librdkafka(), "linger.ms": 5})
    for i in range(N):
        producer.produce(source, f"v{i}".encode(), f"k{i % 37}".encode(), headers=[("ce_id", f"tx-{i}".encode())])
    producer.flush(30)


async def _causes(access: KafkaAccess, topic: str) -> Counter[str]:
    records = await collect(access, topic)
    return Counter(v.decode() for r in records for k, v in (r.headers or ()) if k == CAUSE)


async def _until(access: KafkaAccess, topic: str, at_least: int, timeout_s: float = 90.0) -> Counter[str]:
    async with asyncio.timeout(timeout_s):
        while True:
            found = await _causes(access, topic)
            if sum(found.values()) >= at_least:
                return found
            await asyncio.sleep(0.3)


@asynccontextmanager
async def _hop(
    access: KafkaAccess, source: str, left: str, right: str, instance: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        **access.environment(),
        "PASSERELLE_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "PASSERELLE_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.transactions.twin_hop", source, left, right, instance,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGCONT)  # a paused process must be woken to die
            process.kill()
            await process.wait()


async def _first_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(60):
        return (await process.stdout.readline()).decode().strip()


async def test_a_hop_killed_mid_transaction_leaves_nothing_half_done(apache_kafka: KafkaAccess) -> None:
    source, left, right = _topics()
    await _prepare(apache_kafka, source, left, right)
    async with _hop(apache_kafka, source, left, right, "tueur") as first:
        assert await _first_line(first) == "garantie=transactions"
        await _until(apache_kafka, left, 100)
        first.kill()  # SIGKILL: no abort, no goodbye, a transaction open
        await first.wait()
    # What a read_committed reader sees: whole batches only, on both topics alike.
    seen_left, seen_right = await _causes(apache_kafka, left), await _causes(apache_kafka, right)
    assert seen_left == seen_right and set(seen_left.values()) == {1}
    assert 100 <= len(seen_left) < N
    # The successor has the same instance id: it aborts what was left open and does the rest, once.
    async with _hop(apache_kafka, source, left, right, "tueur") as successor:
        assert await _first_line(successor) == "garantie=transactions"
        done_left = await _until(apache_kafka, left, N)
        await asyncio.sleep(2)  # anything extra would show now
        done_left, done_right = await _causes(apache_kafka, left), await _causes(apache_kafka, right)
    assert done_left == done_right
    assert len(done_left) == N and set(done_left.values()) == {1}


async def test_a_paused_instance_is_fenced_when_it_wakes(apache_kafka: KafkaAccess) -> None:
    source, left, right = _topics()
    await _prepare(apache_kafka, source, left, right)
    async with _hop(apache_kafka, source, left, right, "endormi") as zombie:
        assert await _first_line(zombie) == "garantie=transactions"
        await _until(apache_kafka, left, 50)
        zombie.send_signal(signal.SIGSTOP)
        async with _hop(apache_kafka, source, left, right, "releve") as successor:
            assert await _first_line(successor) == "garantie=transactions"
            await _until(apache_kafka, left, N)
            zombie.send_signal(signal.SIGCONT)  # it wakes believing it still owns its partitions
            await asyncio.sleep(10)
            done_left, done_right = await _causes(apache_kafka, left), await _causes(apache_kafka, right)
    assert done_left == done_right
    assert len(done_left) == N and set(done_left.values()) == {1}, Counter(done_left.values())
