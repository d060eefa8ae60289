"""The hop's guarantees over a real broker: commit after acks, idempotence, bad input never blocks."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.clients import Guarantee, probe_guarantee
from passerelle.broker.reader import collect
from passerelle.broker.topics import PROBE_TOPIC, TopicSpec
from passerelle.core.headers import CAUSE, REPLAY
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings

pytestmark = pytest.mark.broker


class Upper:
    """Uppercases the value; a value of b"boom" is a bug in the processor."""

    def __init__(self, target: str) -> None:
        self.target = target

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        if message.value == b"boom":
            raise RuntimeError("bug")
        tally.count("in", "test", "test", "ok")
        return [Output(self.target, message.value.upper(), message.key, [(CAUSE, message.dedupe_key.encode())])]


@pytest.fixture
async def topics_pair(kafka: KafkaAccess) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    source, target = f"in.hop-{suffix}", f"canon.hop-{suffix}"
    dlq = f"dlq.{_service(source)}"  # auto-created on the embedded broker, never on Apache Kafka
    specs = [TopicSpec.of(source, 3), TopicSpec.of(target, 3), TopicSpec.of(dlq, 1), TopicSpec.of(PROBE_TOPIC)]
    await ensure_topics(kafka, specs)
    return source, target


@pytest.fixture(params=["auto", "off"], ids=["garantie-sondee", "ack-puis-commit"])
def kafka_settings(request: pytest.FixtureRequest, kafka_settings: Settings) -> Settings:
    """Each test in both modes a hop can run in: the broker's transactions when it has them, and ack then commit."""
    return kafka_settings.model_copy(update={"transactions": request.param})


async def _send(
    kafka: KafkaAccess, topic: str, items: list[tuple[bytes, str]], headers: dict[str, str] | None = None
) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka(), enable_idempotence=False)
    await producer.start()
    try:
        for value, ce_id in items:
            extra = [(k, v.encode()) for k, v in (headers or {}).items()]
            await producer.send_and_wait(topic, value, key=ce_id.encode(), headers=[("ce_id", ce_id.encode()), *extra])
    finally:
        await producer.stop()


def _service(source: str) -> str:
    """One service name, so one DLQ, per test: the memory of inputs done is rebuilt from the hop's outputs."""
    return "hoptest-" + source.rsplit("-", 1)[1]


def _hop(settings: Settings, source: str, target: str) -> Hop:
    service = _service(source)
    spec = HopSpec(service, [source], [target, f"dlq.{service}"])
    return Hop(spec, Upper(target), settings, ServiceMetrics(service))


async def _run_until(hop: Hop, kafka: KafkaAccess, topic: str, expected: int) -> list[bytes]:
    import asyncio

    await hop.start()
    try:
        async with asyncio.timeout(30):
            while len(await collect(kafka, topic)) < expected:
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # let the commit land
        return [r.value for r in await collect(kafka, topic)]
    finally:
        await hop.stop()


async def test_outputs_once_even_with_duplicates_and_a_restart(
    kafka: KafkaAccess, kafka_settings: Settings, topics_pair: tuple[str, str]
) -> None:
    source, target = topics_pair
    await _send(kafka, source, [(b"a", "1"), (b"b", "2"), (b"a", "1")])
    assert sorted(await _run_until(_hop(kafka_settings, source, target), kafka, target, 2)) == [b"A", b"B"]
    # Same inputs again (a partner resending) and a fresh hop process: memory rebuilt from outputs.
    await _send(kafka, source, [(b"b", "2"), (b"c", "3")])
    values = await _run_until(_hop(kafka_settings, source, target), kafka, target, 3)
    assert sorted(values) == [b"A", b"B", b"C"]


async def test_a_processor_bug_goes_to_the_dlq_and_the_partition_moves_on(
    kafka: KafkaAccess, kafka_settings: Settings, topics_pair: tuple[str, str]
) -> None:
    source, target = topics_pair
    await _send(kafka, source, [(b"x", "10"), (b"boom", "11"), (b"y", "12")])
    assert sorted(await _run_until(_hop(kafka_settings, source, target), kafka, target, 2)) == [b"X", b"Y"]
    dead = [r for r in await collect(kafka, f"dlq.{_service(source)}") if r.key == b"11"]
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["passerelle_error_code"] == "erreur_interne"
    assert headers["passerelle_error_source_topic"] == source
    assert dead[0].value == b"boom"


async def test_a_replayed_input_is_processed_again_but_only_once(
    kafka: KafkaAccess, kafka_settings: Settings, topics_pair: tuple[str, str]
) -> None:
    source, target = topics_pair
    await _send(kafka, source, [(b"z", "20")])
    await _send(kafka, source, [(b"z", "20"), (b"z", "20")], headers={REPLAY: "dlq.x@0:5"})
    values = await _run_until(_hop(kafka_settings, source, target), kafka, target, 2)
    assert values == [b"Z", b"Z"]


async def test_the_hop_says_which_guarantee_it_gives(
    kafka: KafkaAccess, kafka_settings: Settings, topics_pair: tuple[str, str]
) -> None:
    source, target = topics_pair
    hop = _hop(kafka_settings, source, target)
    await hop.start()
    try:
        expected = (
            Guarantee.ACK_THEN_COMMIT if kafka_settings.transactions == "off" else probe_guarantee(kafka_settings)
        )
        assert hop.guarantee is expected
        gauge = hop.metrics.registry.get_sample_value(
            "passerelle_hop_guarantee", {"service": _service(source), "guarantee": expected.value}
        )
        assert gauge == 1
    finally:
        await hop.stop()
