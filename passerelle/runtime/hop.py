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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import InvalidMessageError, KafkaError, MessageSizeTooLargeError, RecordTooLargeError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from passerelle.broker import topics
from passerelle.broker.admin import broker_message_limit
from passerelle.broker.topics import POLICIES, family_of
from passerelle.core.headers import CAUSE, ERROR_PREFIX, SENDER
from passerelle.core.problems import Problem
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.dedupe import SeenInputs, causes_in
from passerelle.runtime.failures import DLQ_FORMAT, Failure, RecordBudget, reject
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings

log = structlog.get_logger("passerelle.hop")
T = TypeVar("T")
BROKER_DOWN = "broker injoignable"
# A hop that consumes nothing for this long while input waits is reported stalled on /health.
STALL_AFTER_S = 60.0
# Headers a degraded DLQ record keeps from the refused output, so an operator can follow it.
_KEPT_ON_DEGRADE = frozenset({"ce_id", "ce_type", "ce_source", "correlation_id", "traceparent", CAUSE, SENDER})


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
    # Every input must yield an output (an event or an error); False for a hop that only observes (indicators).
    accounts_every_input: bool = True


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
        budget: RecordBudget | None = None,
    ) -> None:
        if not settings.kafka_bootstrap:
            raise ValueError("kafka_bootstrap must be set before building a hop")
        self.spec = spec
        self.processor = processor
        self.settings = settings
        self.metrics = metrics
        self.seen = SeenInputs(settings.dedupe_memory)
        self.budget = budget or RecordBudget(settings.max_record_bytes)
        self.ready = False
        # Why the hop cannot make progress now (None when it can): what /health reports.
        self.trouble: str | None = "demarrage"
        self._failures = 0
        self._last_progress = time.monotonic()
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
        if ready and self.trouble == "demarrage":
            self.trouble = None
        self._report()

    def _report(self) -> None:
        self.metrics.ready.labels(self.spec.service).set(1 if self.healthy else 0)

    @property
    def healthy(self) -> bool:
        return self.ready and self.trouble is None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks=_acks(self.settings.producer_acks),
            enable_idempotence=self.settings.producer_idempotence,
            linger_ms=self.settings.producer_linger_ms,
            max_batch_size=1024 * 1024,
            max_request_size=self.budget.max_bytes + 64 * 1024,
        )
        await self._producer.start()
        limit = await broker_message_limit(str(self.settings.kafka_bootstrap))
        if limit is not None and limit < self.budget.max_bytes:
            log.info("hop.limite_broker", service=self.spec.service, octets=limit)
            self.budget.max_bytes = limit - 8 * 1024
        done = await _with_backoff(
            "memoire",
            self.spec.service,
            lambda: causes_in(str(self.settings.kafka_bootstrap), self.spec.outputs, self.settings.dedupe_memory),
        )
        self.seen.add_all(done)
        log.info("hop.memoire_reconstruite", service=self.spec.service, entrees_deja_traitees=len(done))
        await self.broker.start()
        self._lag_task = asyncio.create_task(self._watch_lag())

    async def stop(self) -> None:
        """Stop within a bounded time even when the broker is gone (a SIGTERM must end the service)."""
        if self._lag_task:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
        await _bounded_step("consommateur", self.spec.service, self.broker.stop())
        if self._producer:
            producer, self._producer = self._producer, None
            await _bounded_step("producteur", self.spec.service, producer.stop())
        self._set_ready(False)

    async def _handle(self, records: Any) -> None:
        started = time.perf_counter()
        outputs, done = self.process_batch([Incoming.from_record(r) for r in records])
        try:
            await self.publish(outputs)
        except BaseException as exc:
            # The batch will be consumed again: forget any state its processing advanced.
            call_hook(self.processor, "rollback")
            if isinstance(exc, Exception):
                await self._back_off(exc)
            raise
        call_hook(self.processor, "commit")
        self.seen.add_all(done)
        self._progressed()
        self._processing.observe(time.perf_counter() - started)
        self._batch_size.observe(len(records))

    async def _back_off(self, exc: Exception) -> None:
        """Wait longer after each failed batch (0.5 s to 30 s) instead of retrying in a tight loop."""
        self._failures += 1
        delay = min(30.0, 0.5 * 2 ** (self._failures - 1))
        self.trouble = "production impossible : broker injoignable ou refus"
        self._report()
        log.warning(
            "hop.lot_en_echec",
            service=self.spec.service,
            erreur=type(exc).__name__,
            tentative=self._failures,
            nouvel_essai_dans_s=delay,
        )
        await asyncio.sleep(delay)

    def _progressed(self) -> None:
        self._last_progress = time.monotonic()
        if self._failures or self.trouble:
            log.info("hop.retabli", service=self.spec.service, apres_echecs=self._failures)
        self._failures = 0
        self.trouble = None
        self._report()

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
                produced = self.processor.process(incoming, tally)
            except Exception as exc:  # a bug must not block the partition: the input goes to the DLQ
                log.exception("hop.erreur_interne", service=self.spec.service, where=incoming.where)
                problem = Problem("erreur_interne", f"erreur interne du service : {type(exc).__name__}")
                produced = self._failed(incoming, problem, tally)
            else:
                if not produced and self.spec.accounts_every_input:
                    problem = Problem("aucun_resultat", "le message n'a produit ni événement ni erreur")
                    produced = self._failed(incoming, problem, tally)
                elif any(len(o.value) > self.budget.max_bytes // 2 for o in produced):
                    produced = self._bounded(incoming, produced, tally)
            outputs.extend(produced)
        self._flush(tally)
        return outputs, done

    def _failed(self, incoming: Incoming, problem: Problem, tally: Tally) -> list[Output]:
        sender = topics.sender_of(incoming.topic)
        # Feedback only to a partner this hop knows: a topic that does not exist would stall the batch.
        known = sender if sender and topics.feedback(sender) in self.spec.outputs else None
        failure = Failure(self.spec.service, known, (problem,), event=incoming.headers.get("ce_type") or None)
        return reject(incoming, [failure], tally, direction="in", partner=sender, budget=self.budget.max_bytes)

    def _bounded(self, incoming: Incoming, produced: list[Output], tally: Tally) -> list[Output]:
        """An output the broker would refuse becomes an error for its input, not a batch retried forever."""
        limit = self.budget.max_bytes
        if all(len(o.value) + _headers_size(o.headers) <= limit for o in produced):
            return produced
        problem = Problem(
            "trop_volumineux",
            f"le résultat dépasse la taille maximale d'un message ({limit} octets) : découpez l'envoi",
            rule="taille_max",
        )
        return self._failed(incoming, problem, tally)

    async def publish(self, outputs: Sequence[Output]) -> None:
        """Hand every output to the producer, then await all acks (one wait per batch, not per message).

        A record the broker refuses for what it is (too large, invalid) is replaced by a minimal DLQ record and
        the batch goes on, loudly; an error the broker may recover from (unreachable, not leader) is raised, so
        the batch is consumed again after a back-off.
        """
        producer = self._producer
        assert producer is not None, "hop not started"
        futures: list[asyncio.Future[Any]] = []
        sent: list[Output] = []
        refused: list[tuple[Output, BaseException]] = []
        for o in outputs:
            try:
                futures.append(await producer.send(o.topic, o.value, key=o.key, headers=o.headers))
                sent.append(o)
            except (MessageSizeTooLargeError, InvalidMessageError) as exc:
                refused.append((o, exc))
        if futures:
            results = await asyncio.gather(*futures, return_exceptions=True)
            for output, result in zip(sent, results, strict=True):
                if isinstance(result, BaseException):
                    if not _refused_for_good(result):
                        raise result
                    refused.append((output, result))
        if refused:
            await self._degrade(refused)

    async def _degrade(self, refused: Sequence[tuple[Output, BaseException]]) -> None:
        producer = self._producer
        assert producer is not None
        dlq = topics.dlq(self.spec.service)
        for output, exc in refused:
            log.error(
                "hop.sortie_refusee",
                service=self.spec.service,
                topic=output.topic,
                taille=len(output.value),
                erreur=type(exc).__name__,
            )
            self.metrics.dlq.labels(self.spec.service, "?", "sortie_refusee").inc()
            headers = [(k, v) for k, v in output.headers if k in _KEPT_ON_DEGRADE]
            headers += [
                (ERROR_PREFIX + "format", DLQ_FORMAT.encode()),
                (ERROR_PREFIX + "code", b"sortie_refusee"),
                (ERROR_PREFIX + "message", f"le broker a refusé la sortie ({type(exc).__name__})".encode()),
                (ERROR_PREFIX + "target_topic", output.topic.encode()),
                (ERROR_PREFIX + "value_truncated", str(len(output.value)).encode()),
                (ERROR_PREFIX + "service", self.spec.service.encode()),
            ]
            if output.topic == dlq:
                continue  # the DLQ itself refused: logged and counted above, nothing smaller to try
            try:
                await (await producer.send(dlq, b"", key=output.key, headers=headers))
            except Exception as second:  # noqa: BLE001 - past this point the only record left is the log line
                log.error("hop.dlq_refusee", service=self.spec.service, erreur=type(second).__name__)

    def _flush(self, tally: Tally) -> None:
        service = self.spec.service
        for (direction, partner, event, outcome), n in tally.counts.items():
            self.metrics.messages.labels(service, direction, partner, event, outcome).inc(n)
        for (partner, reason), n in tally.dlq.items():
            self.metrics.dlq.labels(service, partner, reason).inc(n)

    async def _broker_reachable(self, producer: AIOKafkaProducer) -> bool:
        """A metadata request: the only check that fails while the broker is away (positions are cached)."""
        try:
            async with asyncio.timeout(5):
                await producer.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            if self.trouble != BROKER_DOWN:
                log.warning("hop.broker_injoignable", service=self.spec.service)
            self.trouble = BROKER_DOWN
            self._report()
            return False
        if self.trouble == BROKER_DOWN:
            self.trouble = None
            self._report()
        return True

    async def _watch_lag(self) -> None:
        """Every 5 s: lag per partition, and whether the hop makes progress while input waits (for /health)."""
        while True:
            await asyncio.sleep(5)
            consumer = self.subscriber.consumer
            if consumer is None or self._producer is None:
                continue
            if not await self._broker_reachable(self._producer):
                continue
            waiting = 0
            try:
                async with asyncio.timeout(5):
                    for tp in consumer.assignment():
                        high = consumer.highwater(tp)
                        if high is None:
                            continue
                        lag = max(0, high - await consumer.position(tp))
                        waiting += lag
                        self.metrics.consumer_lag.labels(self.spec.service, tp.topic, str(tp.partition)).set(lag)
            except TimeoutError:
                self.trouble = BROKER_DOWN
                self._report()
                continue
            stalled = waiting and time.monotonic() - self._last_progress > STALL_AFTER_S
            if stalled and self.trouble is None:
                log.warning("hop.bloque", service=self.spec.service, messages_en_attente=waiting)
                self.trouble = f"aucun progrès depuis {STALL_AFTER_S:.0f} s avec {waiting} message(s) en attente"
                self._report()
            elif not waiting and self.trouble and self._failures == 0 and self.ready:
                self.trouble = None
                self._report()


async def _records_of(message: KafkaMessage, _default: Any) -> Any:
    """The raw consumer records: the hop reads them itself, skipping FastStream's per-message decoding."""
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def call_hook(processor: Processor, hook: str) -> None:
    """Call the processor's optional ``commit`` or ``rollback``."""
    method = getattr(processor, hook, None)
    if method is not None:
        method()


def _refused_for_good(exc: BaseException) -> bool:
    """Errors about the record itself: retrying the same record can only fail again."""
    return isinstance(exc, MessageSizeTooLargeError | InvalidMessageError | RecordTooLargeError)


def _headers_size(headers: Sequence[tuple[str, bytes]]) -> int:
    return sum(len(k) + len(v) for k, v in headers)


async def _with_backoff(what: str, service: str, action: Callable[[], Awaitable[T]]) -> T:
    """Retry a start-up step while the broker is unreachable, waiting longer each time, until cancelled."""
    delay = 0.5
    while True:
        try:
            return await action()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("hop.demarrage_en_attente", service=service, etape=what, erreur=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)


async def _bounded_step(what: str, service: str, step: Awaitable[Any], timeout_s: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await step
    except TimeoutError:
        log.warning("hop.arret_force", service=service, etape=what, apres_s=timeout_s)


def _acks(value: str) -> int | str:
    return "all" if value == "all" else int(value)
