"""The embedded broker fixture starts a real Kafka-protocol broker that aiokafka can use."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.embedded import BrokerStartError, EmbeddedBroker
from passerelle.broker.topics import TopicSpec

pytestmark = pytest.mark.broker


async def test_produce_and_consume_over_the_embedded_broker(kafka: KafkaAccess) -> None:
    await ensure_topics(kafka, [TopicSpec.of("in.test-embedded", partitions=3)])
    producer = AIOKafkaProducer(**kafka.aiokafka(), enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait("in.test-embedded", b"bonjour", key=b"k", headers=[("ce_id", b"1")])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "in.test-embedded", **kafka.aiokafka(), auto_offset_reset="earliest", group_id="test-embedded"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        records = [r for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()
    assert [(r.key, r.value, r.headers) for r in records] == [(b"k", b"bonjour", (("ce_id", b"1"),))]


def test_port_already_taken_is_a_clear_error() -> None:
    with EmbeddedBroker() as first, pytest.raises(BrokerStartError, match=str(first.port)):
        EmbeddedBroker(port=first.port).start()


def test_stop_ends_the_process() -> None:
    broker = EmbeddedBroker().start()
    pid = broker.pid
    assert pid is not None
    broker.stop()
    assert broker.pid is None
