"""The router killed mid-stream on Apache Kafka: its deliveries and their audit records are committed together,
so after its restart every event is delivered once and the signed chain has no gap, no fork, no duplicate."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from passerelle.broker.access import KafkaAccess
from passerelle.broker.apache import KafkaCluster
from passerelle.broker.embedded import free_port
from passerelle.broker.reader import collect
from passerelle.broker.topics import AUDIT_TOPIC
from passerelle.core.audit import verify
from passerelle.runtime.audit import KeyPairFiles, read_public_keys, write_key_pair
from passerelle.settings import Settings
from passerelle.stack.local import Stack
from tests.conftest import TEST_SECRET
from tests.e2e.traffic import positionnement
from tests.flows import native_headers, send

pytestmark = pytest.mark.kafka

N = 300


@pytest.fixture(scope="module")
def own_kafka() -> Iterator[KafkaAccess]:
    """A node of its own: this test signs with its own keys, and the shared node's chain must verify alone."""
    with KafkaCluster(nodes=1) as cluster:
        yield cluster.access


@pytest.fixture
async def adapters(own_kafka: KafkaAccess) -> AsyncIterator[Stack]:
    """The I-MILO adapter in this process; the router runs in a process of its own, to be killed."""
    settings = Settings(**own_kafka.settings_fields(), pseudonym_secret=TEST_SECRET, batch_timeout_ms=10)
    stack = Stack(settings, services=("milo-adapter",), with_registry=False)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


async def _router(access: KafkaAccess, keys: KeyPairFiles, instance: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        **access.environment(),
        "PASSERELLE_PSEUDONYM_SECRET": TEST_SECRET,
        "PASSERELLE_INSTANCE_ID": instance,
        "PASSERELLE_AUDIT_SIGNING_KEY_FILE": str(keys.signing),
        "PASSERELLE_AUDIT_PUBLIC_KEY_FILE": str(keys.public),
        "PASSERELLE_METRICS_PORT": str(free_port()),
        "PASSERELLE_BATCH_MAX_RECORDS": "40",
        "PASSERELLE_CONSUMER_SESSION_TIMEOUT_MS": "6000",  # a paused instance loses its partitions in seconds
        "PASSERELLE_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passerelle.cli", "service", "run", "router", "--host", "127.0.0.1",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _chain(access: KafkaAccess, chain: str) -> list[tuple[str, bytes]]:
    records = await collect(access, AUDIT_TOPIC)
    return [(f"{r.partition}:{r.offset}", r.value) for r in records if orjson.loads(r.value).get("chaine") == chain]


async def _deliveries(access: KafkaAccess, markers: set[str]) -> Counter[str]:
    """Delivered events per original input (the router's cause is the canonical event, whose correlation id is
    the input's ce_id)."""
    records = await collect(access, "deliver.region-24")
    return Counter(
        v.decode() for r in records for k, v in (r.headers or ()) if k == "correlation_id" and v.decode() in markers
    )


async def test_a_killed_router_leaves_a_continuous_chain_and_delivers_once(
    own_kafka: KafkaAccess, adapters: Stack, tmp_path: Path
) -> None:
    apache_kafka = own_kafka
    keys = write_key_pair(tmp_path / "cles")
    chain = f"routeur-{uuid.uuid4().hex[:6]}"
    tag = uuid.uuid4().hex[:6]
    markers = {f"audit-{tag}-{i}" for i in range(N)}
    producer = AIOKafkaProducer(**apache_kafka.aiokafka())
    await producer.start()
    try:
        for i in range(N):
            headers = native_headers("formation.Positionnement", ce_id=f"audit-{tag}-{i}")
            await send(producer, "in.imilo", positionnement(f"{tag}-{i}"), headers)
    finally:
        await producer.stop()

    router = await _router(apache_kafka, keys, chain)
    try:
        async with asyncio.timeout(120):
            while len(await _chain(apache_kafka, chain)) < 40:
                await asyncio.sleep(0.3)
        router.kill()  # mid-stream, likely mid-transaction
        await router.wait()
        router = await _router(apache_kafka, keys, chain)  # same instance: aborts what was left open
        async with asyncio.timeout(180):
            while len(await _deliveries(apache_kafka, markers)) < N:
                await asyncio.sleep(0.5)
        await asyncio.sleep(2)
    finally:
        router.kill()
        await router.wait()

    delivered = await _deliveries(apache_kafka, markers)
    assert len(delivered) == N and set(delivered.values()) == {1}, Counter(delivered.values())
    records = await _chain(apache_kafka, chain)
    report = verify(records, read_public_keys([keys.public]))
    assert report.ok, report.breaks[:3]
    assert report.last_sequence[chain] == len(records) >= N
    causes = Counter(v for _, raw in records for v in [orjson.loads(raw)["idEvenement"]])
    assert set(causes.values()) == {1}  # one audit record per delivery, none written twice


async def test_a_paused_router_woken_after_its_successor_took_over_breaks_no_chain(
    own_kafka: KafkaAccess, adapters: Stack, tmp_path: Path
) -> None:
    """Two router instances, two chains: the first is paused mid-stream, the second takes its partitions; when the
    first wakes, its open transaction is refused, its chain rolls back to its last committed record, and every
    event is still delivered once, each chain verifying on its own."""
    keys = write_key_pair(tmp_path / "cles")
    first_chain, second_chain = f"routeur-a-{uuid.uuid4().hex[:4]}", f"routeur-b-{uuid.uuid4().hex[:4]}"
    tag = uuid.uuid4().hex[:6]
    markers = {f"zombie-{tag}-{i}" for i in range(N)}
    producer = AIOKafkaProducer(**own_kafka.aiokafka())
    await producer.start()
    try:
        for i in range(N):
            headers = native_headers("formation.Positionnement", ce_id=f"zombie-{tag}-{i}")
            await send(producer, "in.imilo", positionnement(f"z{tag}-{i}"), headers)
    finally:
        await producer.stop()

    first = await _router(own_kafka, keys, first_chain)
    second: asyncio.subprocess.Process | None = None
    try:
        async with asyncio.timeout(120):
            while len(await _chain(own_kafka, first_chain)) < 40:
                await asyncio.sleep(0.3)
        first.send_signal(signal.SIGSTOP)
        second = await _router(own_kafka, keys, second_chain)
        async with asyncio.timeout(240):
            while len(await _deliveries(own_kafka, markers)) < N:
                await asyncio.sleep(0.5)
        first.send_signal(signal.SIGCONT)
        await asyncio.sleep(10)  # it wakes, tries to commit what it held, and is refused
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                await process.wait()

    delivered = await _deliveries(own_kafka, markers)
    assert len(delivered) == N and set(delivered.values()) == {1}, Counter(delivered.values())
    public = read_public_keys([keys.public])
    for chain in (first_chain, second_chain):
        records = await _chain(own_kafka, chain)
        report = verify(records, public)
        assert report.ok, (chain, report.breaks[:3])
