"""One hop: a FastStream batch subscriber, a translation step, and a producer that never waits per message.

For each consumed batch the hop runs the (synchronous, pure) processor on
every record, hands all outputs to the producer at once, awaits every
acknowledgement, and only then returns, which is when FastStream commits the
offsets. A failure to produce raises, FastStream seeks back (NACK), and the
batch is processed again; the inputs already turned into outputs are
remembered only after the acks, so nothing is lost and nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from passerelle.broker import topics
from passerelle.broker.topics import POLICIES, family_of
from passerelle.core.problems import Problem
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.dedupe import SeenInputs, causes_in
from passerelle.runtime.failures import Failure, failure_outputs
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings

log = structlog.get_logger("passerelle.hop")


class Processor(Protocol):
    """The service-specific step: one input record to its outputs. Pure but for the tally.

    A processor that keeps state across records (the router's audit chain) may also define
    ``commit()`` and ``rollback()``, called once the batch's outputs are acknowledged or lost.
    """

    def process(self, message: Incoming, tally: Tally) -> list[Output]: ...


@dataclass(frozen=True)
class HopSpec:
    service: str
    inputs: Sequence[str]
    # Topics this hop writes, scanned at start to rebuild the memory of inputs already done.
    outputs: Sequence[str]
    description: str = ""
    # Payload model per output topic, for the AsyncAPI document only.
    schemas: Mapping[str, Any] = field(default_factory=dict)


class _Readiness(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, on_change: Callable[[bool], None]) -> None:
        self._on_change = on_change

    async def on_partitions_revoked(self, _revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, _assigned: Any) -> None:
        self._on_change(True)


class Hop:
    """Wires a processor between input topics and a producer, with idempotence and metrics."""

    def __init__(
        self,
        spec: HopSpec,
        processor: Processor,
        settings: Settings,
        metrics: ServiceMetrics,
        broker: KafkaBroker | None = None,
    ) -> None:
        if not settings.kafka_bootstrap:
            raise ValueError("kafka_bootstrap must be set before building a hop")
        self.spec = spec
        self.processor = processor
        self.settings = settings
        self.metrics = metrics
        self.seen = SeenInputs(settings.dedupe_memory)
        self.ready = False
        self.broker = broker or KafkaBroker(settings.kafka_bootstrap, logger=None)
        self.subscriber = self.broker.subscriber(
            *spec.inputs,
            group_id=f"passerelle.{spec.service}",
            batch=True,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            listener=_Readiness(self._set_ready),
            decoder=_records_of,
            title=f"{spec.service}:consume",
            description=spec.description,
        )
        self.subscriber(self._handle)
        for topic in spec.outputs:
            # Declared for the AsyncAPI document; records are produced by the batch producer below.
            self.broker.publisher(
                topic,
                title=f"{spec.service}:{topic}",
                description=POLICIES[family_of(topic)].doc,
                schema=spec.schemas.get(topic),
            )
        self._producer: AIOKafkaProducer | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._processing = metrics.processing.labels(spec.service)
        self._batch_size = metrics.batch_size.labels(spec.service)

    def _set_ready(self, ready: bool) -> None:
        self.ready = ready
        self.metrics.ready.labels(self.spec.service).set(1 if ready else 0)

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks=_acks(self.settings.producer_acks),
            enable_idempotence=self.settings.producer_idempotence,
            linger_ms=self.settings.producer_linger_ms,
            max_batch_size=1024 * 1024,
            max_request_size=8 * 1024 * 1024,
        )
        await self._producer.start()
        done = await causes_in(str(self.settings.kafka_bootstrap), self.spec.outputs, self.settings.dedupe_memory)
        self.seen.add_all(done)
        log.info("hop.memoire_reconstruite", service=self.spec.service, entrees_deja_traitees=len(done))
        await self.broker.start()
        self._lag_task = asyncio.create_task(self._watch_lag())

    async def stop(self) -> None:
        if self._lag_task:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
        await self.broker.stop()
        if self._producer:
            await self._producer.stop()
            self._producer = None
        self._set_ready(False)

    async def _handle(self, records: Any) -> None:
        started = time.perf_counter()
        outputs, done = self.process_batch([Incoming.from_record(r) for r in records])
        try:
            await self.publish(outputs)
        except BaseException:
            # The batch will be consumed again: forget any state its processing advanced.
            call_hook(self.processor, "rollback")
            raise
        call_hook(self.processor, "commit")
        self.seen.add_all(done)
        self._processing.observe(time.perf_counter() - started)
        self._batch_size.observe(len(records))

    def process_batch(self, batch: Sequence[Incoming]) -> tuple[list[Output], list[str]]:
        """Outputs of a batch and the keys of the inputs they settle; duplicates are skipped."""
        tally = Tally()
        outputs: list[Output] = []
        done: list[str] = []
        in_batch: set[str] = set()
        # Asked once per batch: a debug call per message costs several microseconds even when filtered out.
        debug = log.bind().is_enabled_for(logging.DEBUG)
        for incoming in batch:
            key = incoming.dedupe_key
            if key in self.seen or key in in_batch:
                headers = incoming.headers
                tally.count("in", headers.get("ce_source", "?"), headers.get("ce_type", "?"), "doublon")
                continue
            in_batch.add(key)
            done.append(key)
            if debug:
                headers = incoming.headers
                log.debug(
                    "message.recu",
                    service=self.spec.service,
                    ce_id=incoming.input_id,
                    correlation_id=headers.get("correlation_id"),
                    traceparent=headers.get("traceparent"),
                    event_type=headers.get("ce_type"),
                    topic=incoming.topic,
                    partition=incoming.partition,
                    offset=incoming.offset,
                )
            try:
                outputs.extend(self.processor.process(incoming, tally))
            except Exception as exc:  # a bug must not block the partition: the input goes to the DLQ
                log.exception("hop.erreur_interne", service=self.spec.service, where=incoming.where)
                problem = Problem("erreur_interne", f"erreur interne du service : {type(exc).__name__}")
                sender = topics.sender_of(incoming.topic)
                # Feedback only to a partner this hop knows: a topic that does not exist would stall the batch.
                known = sender if sender and topics.feedback(sender) in self.spec.outputs else None
                outputs.extend(failure_outputs(incoming, Failure(self.spec.service, known, (problem,))))
                tally.rejected(sender or "?", "erreur_interne")
        self._flush(tally)
        return outputs, done

    async def publish(self, outputs: Sequence[Output]) -> None:
        """Hand every output to the producer, then await all acks (one wait per batch, not per message)."""
        producer = self._producer
        assert producer is not None, "hop not started"
        futures = [await producer.send(o.topic, o.value, key=o.key, headers=o.headers) for o in outputs]
        if futures:
            await asyncio.gather(*futures)

    def _flush(self, tally: Tally) -> None:
        service = self.spec.service
        for (direction, partner, event, outcome), n in tally.counts.items():
            self.metrics.messages.labels(service, direction, partner, event, outcome).inc(n)
        for (partner, reason), n in tally.dlq.items():
            self.metrics.dlq.labels(service, partner, reason).inc(n)

    async def _watch_lag(self) -> None:
        while True:
            await asyncio.sleep(5)
            consumer = self.subscriber.consumer
            if consumer is None:
                continue
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is None:
                    continue
                position = await consumer.position(tp)
                lag = max(0, high - position)
                self.metrics.consumer_lag.labels(self.spec.service, tp.topic, str(tp.partition)).set(lag)


async def _records_of(message: KafkaMessage, _default: Any) -> Any:
    """The raw consumer records: the hop reads them itself, skipping FastStream's per-message decoding."""
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def call_hook(processor: Processor, hook: str) -> None:
    """Call the processor's optional ``commit`` or ``rollback``."""
    method = getattr(processor, hook, None)
    if method is not None:
        method()


def _acks(value: str) -> int | str:
    return "all" if value == "all" else int(value)
