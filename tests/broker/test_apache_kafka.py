"""A real Apache Kafka, as production runs it, started by ``passerelle.broker.apache`` from the Maven jars.

One node: idempotent ``acks=all`` producers and transactions (the next steps build on both). Three nodes:
replication 3 with ``min.insync.replicas=2`` holds when a node is killed, and a stopped cluster resumes
from its folders with what was committed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.apache import KafkaCluster
from passerelle.broker.topics import TopicSpec

pytestmark = pytest.mark.kafka


@asynccontextmanager
async def admin_client(access: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@asynccontextmanager
async def producer(access: KafkaAccess, **options: Any) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=True, acks="all", **options)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def consume(
    access: KafkaAccess, topic: str, count: int, group: str | None = None, **options: Any
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first ``count`` records of ``topic`` (from the group's committed offset if it has one), in 30 s."""
    consumer = AIOKafkaConsumer(topic, **access.aiokafka(), group_id=group, auto_offset_reset="earliest", **options)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                # No more than asked, so that the offset committed below is exactly after the records returned.
                for batch in (await consumer.getmany(timeout_ms=500, max_records=count - len(records))).values():
                    records += batch
        if group is not None:
            await consumer.commit()
    finally:
        await consumer.stop()
    return records


async def configs(
    admin: AIOKafkaAdminClient, kind: ConfigResourceType, name: str, keys: Sequence[str]
) -> dict[str, str]:
    responses = await admin.describe_configs([ConfigResource(kind, name, dict.fromkeys(keys))])
    entries = [e for r in responses for res in r.to_object()["resources"] for e in res["config_entries"]]
    return {e["config_names"]: e["config_value"] for e in entries}


async def leader_of(access: KafkaAccess, topic: str) -> int:
    """Node id leading the topic's partition 0, once the broker asked knows of the new topic."""
    async with admin_client(access) as admin, asyncio.timeout(15):
        while True:
            [described] = await admin.describe_topics([topic])
            if described["partitions"] and described["partitions"][0]["leader"] >= 0:
                return int(described["partitions"][0]["leader"])
            await asyncio.sleep(0.1)


def values(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[bytes]:
    return sorted(r.value for r in records if r.value is not None)


async def test_single_node_runs_the_single_node_settings(apache_kafka: KafkaAccess) -> None:
    async with admin_client(apache_kafka) as admin:
        cluster = await admin.describe_cluster()
        broker_id = str(cluster["brokers"][0]["node_id"])
        settings = await configs(
            admin,
            ConfigResourceType.BROKER,
            broker_id,
            ["auto.create.topics.enable", "min.insync.replicas", "offsets.topic.replication.factor"],
        )
    assert len(cluster["brokers"]) == 1
    assert settings == {
        "auto.create.topics.enable": "false",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
    }


async def test_single_node_idempotent_acks_all_produce_and_consume(apache_kafka: KafkaAccess) -> None:
    topic = "in.kafka-single"
    await ensure_topics(apache_kafka, [TopicSpec.of(topic, partitions=3)])
    sent = [f"message-{i}".encode() for i in range(20)]
    async with producer(apache_kafka) as client:
        results = await asyncio.gather(*[await client.send(topic, v, key=v[-1:]) for v in sent])
    assert all(r.offset >= 0 for r in results)
    records = await consume(apache_kafka, topic, len(sent), group="kafka-single")
    assert values(records) == sorted(sent)


async def test_single_node_transactions_commit_and_abort(apache_kafka: KafkaAccess) -> None:
    topic = "in.kafka-transactions"
    await ensure_topics(apache_kafka, [TopicSpec.of(topic, partitions=1)])
    async with producer(apache_kafka, transactional_id="passerelle-test-tx") as client:
        await client.begin_transaction()
        await client.send(topic, b"kept-1")
        await client.send(topic, b"kept-2")
        await client.commit_transaction()
        await client.begin_transaction()
        await client.send(topic, b"dropped")
        await client.abort_transaction()
        async with client.transaction():
            await client.send(topic, b"kept-3")
    committed = await consume(apache_kafka, topic, 3, isolation_level="read_committed")
    everything = await consume(apache_kafka, topic, 4, isolation_level="read_uncommitted")
    assert values(committed) == [b"kept-1", b"kept-2", b"kept-3"]
    assert b"dropped" in values(everything)


async def test_a_node_resumes_its_folder_and_leaves_no_process_behind(tmp_path: Path) -> None:
    topic = "in.kafka-resume-node"
    first = await asyncio.to_thread(KafkaCluster(nodes=1, data_dir=tmp_path).start)
    try:
        await ensure_topics(first.access, [TopicSpec.of(topic, partitions=1)])
        async with producer(first.access) as client:
            await client.send_and_wait(topic, b"kept")
        pids = [n.process.pid for n in first.nodes if n.process is not None]
    finally:
        await asyncio.to_thread(first.close)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the JVM's process group is gone, not only the JVM

    # A new cluster object on the same folder (new ports) is the same cluster, with its data.
    second = await asyncio.to_thread(KafkaCluster(nodes=1, data_dir=tmp_path).start)
    try:
        assert second.cluster_id == first.cluster_id
        assert [r.value for r in await consume(second.access, topic, 1)] == [b"kept"]
    finally:
        await asyncio.to_thread(second.close)
    assert (tmp_path / "node-1" / "kafka.log").is_file()  # a caller's folder is kept, logs included


async def test_cluster_has_three_brokers_and_replicates_with_min_isr_two(apache_cluster: KafkaCluster) -> None:
    topic = "canon.kafka-cluster"
    await ensure_topics(apache_cluster.access, [TopicSpec.of(topic, partitions=3)], replication_factor=3)
    async with admin_client(apache_cluster.access) as admin:
        cluster = await admin.describe_cluster()
        [described] = await admin.describe_topics([topic])
        settings = await configs(admin, ConfigResourceType.TOPIC, topic, ["min.insync.replicas"])
    assert sorted(b["node_id"] for b in cluster["brokers"]) == [1, 2, 3]
    assert [len(p["replicas"]) for p in described["partitions"]] == [3, 3, 3]
    assert settings == {"min.insync.replicas": "2"}


async def test_cluster_acks_all_survives_a_killed_node(apache_cluster: KafkaCluster) -> None:
    topic = "canon.kafka-failover"
    access = apache_cluster.access
    await ensure_topics(access, [TopicSpec.of(topic, partitions=1)], replication_factor=3)
    leader = await leader_of(access, topic)
    async with producer(access) as client:
        await client.send_and_wait(topic, b"before")
        await asyncio.to_thread(apache_cluster.kill, leader - 1)  # the partition's leader: a fail-over is needed
        try:
            # Two replicas of three are left: min.insync.replicas=2 still accepts acks=all.
            after = await client.send_and_wait(topic, b"after", partition=0)
            assert after.offset == 1
        finally:
            await asyncio.to_thread(apache_cluster.start_node, leader - 1)
    records = await consume(access, topic, 2)
    assert [r.value for r in records] == [b"before", b"after"]


async def test_cluster_resumes_from_its_folders_after_a_full_stop(apache_cluster: KafkaCluster) -> None:
    topic = "canon.kafka-resume"
    await ensure_topics(apache_cluster.access, [TopicSpec.of(topic, partitions=1)], replication_factor=3)
    sent = [f"resume-{i}".encode() for i in range(10)]
    async with producer(apache_cluster.access) as client:
        for value in sent:
            await client.send_and_wait(topic, value)
    read_before = await consume(apache_cluster.access, topic, 4, group="kafka-resume")
    cluster_id = apache_cluster.cluster_id

    await asyncio.to_thread(apache_cluster.stop)
    await asyncio.to_thread(apache_cluster.start)

    # The committed records and the group's committed offset are both back, in the same cluster.
    read_after = await consume(apache_cluster.access, topic, 6, group="kafka-resume")
    everything = await consume(apache_cluster.access, topic, 10)
    assert apache_cluster.cluster_id == cluster_id
    assert [r.value for r in read_before] == sent[:4]
    assert [r.value for r in read_after] == sent[4:]
    assert [r.value for r in everything] == sent


def test_two_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="1 nœud ou au moins 3"):
        KafkaCluster(nodes=2)
