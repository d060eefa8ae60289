"""One hop: consume a batch, translate every record, produce every output, then commit: once per input.

The hop runs its Kafka loop in a thread of its own with librdkafka
(confluent-kafka): its consumer and producer calls block, and the processor is
synchronous and pure. How the batch is committed depends on what the broker
can do, asked at start (``probe_guarantee``):

- **transactions** (Apache Kafka): the batch's outputs, its audit records and
  the consumed offsets are written in one transaction, with the consumer
  group's metadata (KIP-447), so a predecessor that lost its partitions is
  fenced; readers read ``read_committed``. A failed transaction is aborted, the
  consumer rewinds to the batch's first offsets, and the batch is done again;
- **ack then commit** (the embedded broker): outputs are produced, every
  acknowledgement awaited, and only then the offsets committed; the inputs
  already turned into outputs are remembered, rebuilt at start from the
  outputs' ``passerelle_cause`` headers, and skipped.

librdkafka was chosen over aiokafka for the hop (docs/architecture.md): it
implements KIP-447, and measured 2 to 4 times faster on the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import structlog
from aiokafka.errors import KafkaError as AioKafkaError
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin._metadata import ClusterMetadata

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import broker_message_limit
from passerelle.broker.clients import Guarantee, consumer_config, lookout_config, probe_guarantee, producer_config
from passerelle.core.envelope import format_time, subject_of
from passerelle.core.headers import CAUSE, ERROR_PREFIX, SENDER
from passerelle.core.problems import Problem
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.dedupe import SeenInputs, causes_in
from passerelle.runtime.failures import DLQ_FORMAT, Failure, RecordBudget, dead_letter_headers, reject
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.passes import Processor, translate
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings

log = structlog.get_logger("passerelle.hop")
T = TypeVar("T")
BROKER_DOWN = "broker injoignable"
STARTING = "demarrage"
FENCED = "instance évincée : une autre instance a repris ses partitions"
WRITE_BLOCKED = "écriture impossible : le broker répond mais ne valide plus d'écriture"
PRODUCE_FAILED = "production impossible : broker injoignable ou refus"
# A hop that consumes nothing for this long while input waits is reported stalled on /health.
STALL_AFTER_S = 60.0
# A loop that has not gone round for this long (a client call that never returns) is reported on /health.
LOOP_BLOCKED_AFTER_S = 90.0
_CHECK_EVERY_S = 5.0
_CALL_TIMEOUT_S = 30.0
_CLOSE_WAIT_S = 10.0
_DRAIN_S = 5.0  # the longest a consumer is polled for its pending rebalances before it is closed
# Each try of a transactional call that is tried again: short, so /health tells soon that the broker is away.
_RETRIED_CALL_S = 10.0
# An idle hop proves every so often that it could still commit (see _can_write).
_PROBE_IDLE_S = 10.0
_PROBE_EVERY_S = 10.0
# A consumer the group has not given partitions for this long, past its session timeout, joins again as a new
# member: a coordinator may keep it waiting on a rebalance that never ends (seen on the embedded broker).
_JOIN_LIMIT_S = 30.0
# Troubles a quiet partition does not clear: only their own cause going away does.
_STICKY = frozenset({FENCED, WRITE_BLOCKED})
# Headers a degraded DLQ record keeps from the refused output, so an operator can follow it.
_KEPT_ON_DEGRADE = frozenset({"ce_id", "ce_type", "ce_source", "correlation_id", "traceparent", CAUSE, SENDER})
# Errors about the record itself: producing the same record again can only fail again.
_REFUSED_FOR_GOOD = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE, KafkaError.INVALID_MSG})
_BROKER_AWAY = frozenset({KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT})
# A newer instance with the same transactional id, or a newer group generation, owns the work now.
_FENCED_CODES = frozenset({KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH})


@dataclass(frozen=True)
class HopSpec:
    service: str
    inputs: Sequence[str]
    # Topics this hop writes, scanned at start to rebuild the memory of inputs already done.
    outputs: Sequence[str]
    description: str = ""
    # Every input must yield an output (an event or an error); False for a hop that only observes (indicators).
    accounts_every_input: bool = True
    # Topics written on the service's own schedule, not in answer to an input (the indicators' publication).
    publishes: Sequence[str] = ()


def group_of(service: str) -> str:
    """The consumer group of a service's hop: every instance of the service shares its partitions."""
    return f"passerelle.{service}"


def transactional_prefix(service: str) -> str:
    """What every transactional id of a service's instances starts with (then the instance's stable name)."""
    return f"passerelle.{service}."


class Hop:
    """Wires a processor between input topics and a producer, once per input, with metrics and health."""

    def __init__(
        self,
        spec: HopSpec,
        processor: Processor,
        settings: Settings,
        metrics: ServiceMetrics,
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
        self.group_id = group_of(spec.service)
        self.guarantee: Guarantee | None = None
        self.ready = False
        # Why the hop cannot make progress now (None when it can): what /health reports.
        self.trouble: str | None = STARTING
        self._failures = 0
        self._last_progress = time.monotonic()
        self._last_check = 0.0
        self._last_probe = 0.0
        self._stopping = threading.Event()
        # Set when no broker answers, or when the consumer cannot say where to read again: the loop then waits
        # for a broker and starts again with a new consumer, from the committed offsets.
        self._all_down = threading.Event()
        self._turned = time.monotonic()  # when the loop last went round: a blocked loop is not healthy
        # The loop thread holds it for each batch; publish() from the event loop takes it too.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        # Records the broker did not take, reported during a flush (only failures are reported: see _new_producer).
        self._undelivered: list[_Undelivered] = []
        # Asks the cluster's metadata and leaders for the checks: asked on the consumer's connections, each request
        # waits behind a fetch the broker holds up to fetch.wait.max.ms (Kafka answers a connection's requests in
        # order), and the loop stood still for up to 1.5 s on three nodes.
        self._lookout: Consumer | None = None
        # When the current consumer subscribed; None once the group has given it its partitions.
        self._joining_since: float | None = None
        self._rebalances = 0  # rebalance callbacks served so far: a drain polls until they stop coming
        self._processing = metrics.processing.labels(spec.service)
        self._batch_size = metrics.batch_size.labels(spec.service)
        self._commit_seconds = metrics.commit.labels(spec.service)

    # ------------------------------------------------------------------ health

    def _set_ready(self, ready: bool) -> None:
        self.ready = ready
        if ready and self.trouble == STARTING:
            self.trouble = None
        self._report()

    def _report(self) -> None:
        self.metrics.ready.labels(self.spec.service).set(1 if self.healthy else 0)
        self.metrics.broker_reachable.labels(self.spec.service).set(0 if self.trouble == BROKER_DOWN else 1)

    @property
    def healthy(self) -> bool:
        return self.why_not_healthy is None

    @property
    def why_not_healthy(self) -> str | None:
        """What /health reports for this hop: None when it can make progress."""
        if not self.ready:
            return STARTING
        blocked = time.monotonic() - self._turned
        if self._thread is not None and blocked > LOOP_BLOCKED_AFTER_S:
            return f"boucle bloquée depuis {blocked:.0f} s"
        return self.trouble

    @property
    def why_dead(self) -> str | None:
        """What only a restart mends (the liveness probe's answer): an instance fenced by its successor, a loop
        that ended or stopped going round. A broker away is not one: the hop waits for it and carries on."""
        if self.trouble == FENCED:
            return FENCED
        if self._thread is not None and not self._thread.is_alive() and not self._stopping.is_set():
            return "boucle arrêtée"
        blocked = time.monotonic() - self._turned
        if self._thread is not None and blocked > LOOP_BLOCKED_AFTER_S:
            return f"boucle bloquée depuis {blocked:.0f} s"
        return None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        access = KafkaAccess.of(self.settings)
        limit = await broker_message_limit(access)
        if limit is not None and limit < self.budget.max_bytes:
            log.info("hop.limite_broker", service=self.spec.service, octets=limit)
            self.budget.max_bytes = limit - 8 * 1024
        self.guarantee = await asyncio.to_thread(probe_guarantee, self.settings)
        for mode in Guarantee:
            self.metrics.guarantee.labels(self.spec.service, mode.value).set(1 if mode is self.guarantee else 0)
        log.info("hop.garantie", service=self.spec.service, garantie=self.guarantee.value)
        done = await _with_backoff(
            "memoire",
            self.spec.service,
            lambda: causes_in(access, self.spec.outputs, self.settings.dedupe_memory),
        )
        self.seen.add_all(done)
        log.info("hop.memoire_reconstruite", service=self.spec.service, entrees_deja_traitees=len(done))
        self._producer = await asyncio.to_thread(self._new_producer)
        self._lookout = Consumer(lookout_config(self.settings, self.spec.service))
        self._consumer = self._new_consumer()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"hop-{self.spec.service}", daemon=True)
        self._thread.start()

    def _new_consumer(self) -> Consumer:
        config = consumer_config(self.settings, self.group_id, read_committed=self.guarantee is Guarantee.TRANSACTIONS)
        config["error_cb"] = self._on_client_error
        consumer = Consumer(config)
        consumer.subscribe(
            list(self.spec.inputs), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self._joining_since = time.monotonic()
        return consumer

    def _new_producer(self) -> Producer:
        transactional = self.guarantee is Guarantee.TRANSACTIONS
        transactional_id = (
            transactional_prefix(self.spec.service) + self.settings.instance_id if transactional else None
        )
        config = producer_config(
            self.settings, max_message_bytes=self.budget.max_bytes + 64 * 1024, transactional_id=transactional_id
        )
        if not transactional:
            # One callback for the producer, called for failures only, rather than a closure per output called back
            # for every success too, in the hop's thread.
            config |= {"on_delivery": self._on_undelivered, "delivery.report.only.error": True}
        producer = Producer(config)
        if transactional:
            # Aborts whatever a predecessor with the same id left open, and fences it.
            producer.init_transactions(_CALL_TIMEOUT_S)
        return producer

    async def stop(self) -> None:
        """Stop within a bounded time even when the broker is gone (a SIGTERM must end the service)."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15.0)
            if self._thread.is_alive():
                log.warning("hop.arret_force", service=self.spec.service, etape="boucle")
            self._thread = None
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await _bounded_step("consommateur", self.spec.service, _in_daemon_thread(consumer.close))
        lookout, self._lookout = self._lookout, None
        if lookout is not None:
            await _bounded_step("vigie", self.spec.service, _in_daemon_thread(lookout.close))
        producer, self._producer = self._producer, None
        if producer is not None:
            await _bounded_step("producteur", self.spec.service, _in_daemon_thread(lambda: producer.flush(5.0)))
        self._set_ready(False)

    # ------------------------------------------------------------------ the loop (its own thread)

    def _run(self) -> None:
        timeout_s = max(self.settings.batch_timeout_ms, 100) / 1000
        while not self._stopping.is_set():
            self._turned = time.monotonic()
            producer = self._producer or self._replace_producer()
            if producer is None:
                continue
            if self._all_down.is_set():
                self._reconnect()
                continue
            consumer = self._consumer
            assert consumer is not None
            try:
                messages = _arrived(consumer, self.settings.batch_max_records, timeout_s)
            except KafkaException as exc:
                log.warning("hop.lecture_impossible", service=self.spec.service, erreur=str(exc.args[0]))
                self._sleep(1.0)
                continue
            records = [m for m in messages if m.error() is None]
            for message in messages:
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    self._on_client_error(error)
            if records:
                self._handle(consumer, producer, records)
            self._maybe_check(consumer)
        if self._consumer is not None:
            self._drain(self._consumer)  # stop() closes it next

    def _reconnect(self) -> None:
        """Once no broker answered, read nothing until one does, then start again from the committed offsets
        with a new consumer: a broker that came back without its log (the embedded one keeps it in memory)
        would otherwise be read from positions it no longer has, skipping its first new records."""
        old = self._consumer
        assert old is not None
        # Polled, not left idle: once its session has run out, the client revokes the lost assignment here, in
        # an ordinary poll. Left to close(), that revocation runs confluent-kafka's fallback assign() holding the
        # GIL, and a close after a broker restart was seen to block there and freeze the whole process.
        with contextlib.suppress(KafkaException, RuntimeError):
            old.poll(1.0)  # a record read now is read again by the new consumer, from the committed offsets
        if not self._cluster_answers(old):
            return
        log.warning("hop.nouveau_consommateur", service=self.spec.service)
        self._all_down.clear()
        self._drain(old)
        closing = threading.Thread(target=_close_quietly, args=(old,), name="hop-fermeture", daemon=True)
        closing.start()
        closing.join(_CLOSE_WAIT_S)
        self._consumer = self._new_consumer()

    def _cluster_answers(self, old: Consumer) -> bool:
        """Whether a broker gives metadata to the old consumer or, failing that, to the hop's lookout: after a whole
        cluster's restart one old consumer was seen to get none for minutes while the cluster was back."""
        for client in (old, self._lookout):
            if client is None:
                continue
            try:
                client.list_topics(timeout=2.0)
            except KafkaException:
                continue
            return True
        return False

    def _drain(self, consumer: Consumer) -> None:
        """Poll until three polls in a row serve no rebalance: what the group sent is served here, not in close().

        close() serves a rebalance still queued with confluent-kafka's fallback assign(), which holds the GIL, and
        librdkafka can block there for ever (librdkafka#4884): after a broker restart an assignment from the new
        group was queued when the old consumer was closed, and the whole process froze. Not unsubscribe() first:
        the embedded broker then kept the member that left as its group's leader, and no member joined again.
        """
        quiet, deadline = 0, time.monotonic() + _DRAIN_S
        while quiet < 3 and time.monotonic() < deadline:
            served = self._rebalances
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.poll(0.1)  # a record read now is not processed: the next consumer reads it again
            quiet = quiet + 1 if self._rebalances == served else 0

    def _replace_producer(self) -> Producer | None:
        """A producer after a fatal error: tried again with back-off while the broker does not answer."""
        try:
            self._producer = self._new_producer()
        except KafkaException as exc:
            self._back_off(exc.args[0])
            return None
        return self._producer

    def _handle(self, consumer: Consumer, producer: Producer, records: list[Message]) -> None:
        started = time.perf_counter()
        with self._lock:
            outputs, done = self.process_batch([Incoming.from_confluent(m) for m in records])
            offsets = _next_offsets(records)
            try:
                if self.guarantee is Guarantee.TRANSACTIONS:
                    self._commit_in_transaction(consumer, producer, outputs, offsets)
                else:
                    self._produce_and_wait(producer, outputs)
                    consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                call_hook(self.processor, "rollback")
                self._failed_batch(consumer, producer, records, exc)
                return
            except Exception:  # the loop must outlive a bug: the batch is read again, loudly
                log.exception("hop.lot_erreur_inattendue", service=self.spec.service)
                call_hook(self.processor, "rollback")
                failure = KafkaException(KafkaError(KafkaError._FAIL, "erreur inattendue du saut"))
                self._failed_batch(consumer, producer, records, failure)
                return
            call_hook(self.processor, "commit")
        self.seen.add_all(done)
        self._progressed()
        self._processing.observe(time.perf_counter() - started)
        self._batch_size.observe(len(records))

    def _commit_in_transaction(
        self, consumer: Consumer, producer: Producer, outputs: Sequence[Output], offsets: list[TopicPartition]
    ) -> None:
        producer.begin_transaction()
        self._produce_all(producer, outputs)
        metadata = consumer.consumer_group_metadata()
        started = time.perf_counter()
        # librdkafka's send_offsets_to_transaction can block past its timeout while the group coordinator is away
        # (confluentinc/librdkafka#5456): both coordinator calls run in a thread the loop does not wait for forever.
        self._retrying(
            lambda: _bounded(lambda: producer.send_offsets_to_transaction(offsets, metadata, _RETRIED_CALL_S))
        )
        # A commit that failed with a retriable error may have reached the coordinator: it is asked again, never
        # aborted, or the batch would be done twice (librdkafka's commit_transaction contract).
        self._retrying(lambda: _bounded(lambda: producer.commit_transaction(_RETRIED_CALL_S)))
        self._commit_seconds.observe(time.perf_counter() - started)

    def _retrying(self, call: Callable[[], None], limit_s: float = _CALL_TIMEOUT_S) -> None:
        """A transactional call again while librdkafka says its error is retriable (a coordinator moving to another
        broker, a request timing out), for at most ``limit_s``; any other error goes to the caller."""
        deadline = time.monotonic() + limit_s
        delay = 0.1
        while True:
            try:
                call()
                return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if not error.retriable() or time.monotonic() + delay > deadline or self._stopping.is_set():
                    raise
                self._waiting_for_broker(error)
                self._sleep(delay)
                delay = min(delay * 2, 2.0)

    def _waiting_for_broker(self, error: KafkaError) -> None:
        """/health says the hop waits for the broker while it blocks on a call the broker does not answer."""
        if self.trouble != BROKER_DOWN:
            log.warning("hop.broker_injoignable", service=self.spec.service, erreur=error.name())
        self.trouble = BROKER_DOWN
        self._report()

    def _produce_and_wait(self, producer: Producer, outputs: Sequence[Output]) -> None:
        reports: list[_Undelivered] = []
        self._undelivered = reports
        self._produce_all(producer, outputs)
        remaining = producer.flush(_CALL_TIMEOUT_S)
        if remaining:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"{remaining} sortie(s) sans accusé de réception"))
        errors = _outputs_of(reports, outputs) if reports else []
        refused = [(o, e) for o, e in errors if e.code() in _REFUSED_FOR_GOOD]
        if len(refused) < len(errors):
            raise KafkaException(next(e for _, e in errors if e.code() not in _REFUSED_FOR_GOOD))
        if refused:
            self._degrade(producer, refused)
            producer.flush(_CALL_TIMEOUT_S)

    def _on_undelivered(self, error: KafkaError | None, message: Message) -> None:
        """The producer's report of a record it could not deliver (it reports nothing for the others)."""
        if error is not None:
            self._undelivered.append(_Undelivered(str(message.topic()), message.key(), message.value() or b"", error))

    def _produce_all(self, producer: Producer, outputs: Sequence[Output]) -> None:
        """Every output handed to the producer; one it refuses outright is replaced by a degraded DLQ record."""
        refused: list[tuple[Output, KafkaError]] = []
        for output in outputs:
            while True:
                try:
                    producer.produce(output.topic, output.value, output.key, headers=_headers(output))
                    break
                except BufferError:
                    producer.poll(0.05)  # the local queue is full: let deliveries drain
                except KafkaException as exc:
                    error = exc.args[0]
                    if error.code() not in _REFUSED_FOR_GOOD:
                        raise
                    refused.append((output, error))
                    break
        if refused:
            self._degrade(producer, refused)

    def _degrade(self, producer: Producer, refused: Sequence[tuple[Output, KafkaError]]) -> None:
        dlq = topics.dlq(self.spec.service)
        for output, error in refused:
            log.error(
                "hop.sortie_refusee",
                service=self.spec.service,
                topic=output.topic,
                taille=len(output.value),
                erreur=error.name(),
            )
            self.metrics.dlq.labels(self.spec.service, "?", "sortie_refusee").inc()
            if output.topic == dlq:
                continue  # the DLQ itself refused: logged and counted above, nothing smaller to try
            kept = [(k, v) for k, v in output.headers if k in _KEPT_ON_DEGRADE]
            cause = dict(output.headers).get(CAUSE, b"").decode() or output.topic
            moment = format_time(datetime.now(UTC))
            headers = dead_letter_headers(kept, self.spec.service, derived_id("dlq", "sortie", cause), moment)
            headers += [
                (ERROR_PREFIX + "format", DLQ_FORMAT.encode()),
                (ERROR_PREFIX + "code", b"sortie_refusee"),
                (ERROR_PREFIX + "message", f"le broker a refusé la sortie ({error.name()})".encode()),
                (ERROR_PREFIX + "target_topic", output.topic.encode()),
                (ERROR_PREFIX + "value_truncated", str(len(output.value)).encode()),
                (ERROR_PREFIX + "service", self.spec.service.encode()),
            ]
            producer.produce(dlq, b"", output.key, headers=cast(Any, headers))

    def _failed_batch(
        self, consumer: Consumer, producer: Producer, records: Sequence[Message], exc: KafkaException
    ) -> None:
        error: KafkaError = exc.args[0]
        if self.guarantee is Guarantee.TRANSACTIONS:
            if error.code() in _FENCED_CODES:
                # A successor took over: nothing of this batch was committed, and this instance must stop.
                log.error("hop.evincee", service=self.spec.service, erreur=error.name())
                self.trouble = FENCED
                self._report()
                self._stopping.set()
                return
            if error.fatal() or error.code() == KafkaError._TIMED_OUT or self._failures >= 1:
                # The producer cannot go on (a restarted broker forgot its id, a coordinator connection that never
                # answers): a new one with the same transactional id aborts what this one left open.
                log.warning("hop.producteur_recree", service=self.spec.service, erreur=error.name())
                threading.Thread(target=_abort_quietly, args=(producer,), name="hop-abandon", daemon=True).start()
                self._producer = None
            else:
                with contextlib.suppress(KafkaException):
                    producer.abort_transaction(_CALL_TIMEOUT_S)
        # Read the batch again, after a wait that grows with each failure.
        for tp in self._restart_points(consumer, _first_offsets(records)):
            with contextlib.suppress(KafkaException):
                consumer.seek(tp)
        self._back_off(error)

    def _restart_points(self, consumer: Consumer, first: list[TopicPartition]) -> list[TopicPartition]:
        """Where to read a failed batch again: from its first records, or in transactional mode from the offsets
        the broker holds as committed, since a commit whose answer was lost may still have succeeded."""
        if self.guarantee is not Guarantee.TRANSACTIONS:
            return first
        try:
            committed = consumer.committed([TopicPartition(t.topic, t.partition) for t in first], _RETRIED_CALL_S)
        except KafkaException as exc:
            # Unknown: a new consumer will start from whatever the broker holds as committed.
            self._waiting_for_broker(exc.args[0])
            self._all_down.set()
            return []
        held = {(c.topic, c.partition): c.offset for c in committed}
        return [TopicPartition(t.topic, t.partition, max(t.offset, held.get((t.topic, t.partition), -1)))
                for t in first]  # fmt: skip

    def _back_off(self, error: KafkaError) -> None:
        """Wait longer after each failed batch (0.5 s to 30 s) instead of retrying in a tight loop."""
        self._failures += 1
        delay = min(30.0, 0.5 * 2 ** (self._failures - 1))
        self.trouble = PRODUCE_FAILED
        self._report()
        log.warning(
            "hop.lot_en_echec",
            service=self.spec.service,
            erreur=error.name(),
            tentative=self._failures,
            nouvel_essai_dans_s=delay,
        )
        self._sleep(delay)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _progressed(self) -> None:
        self._last_progress = time.monotonic()
        if self._failures or self.trouble:
            log.info("hop.retabli", service=self.spec.service, apres_echecs=self._failures)
        self._failures = 0
        self.trouble = None
        self._report()

    def _on_assign(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._rebalances += 1
        self._joining_since = None
        self._set_ready(True)

    def _join_stuck(self, now: float) -> bool:
        """Whether the consumer has waited on its group far longer than a join takes (its session timeout, the
        dead members' sessions, the coordinator's delay): a new member is then the way out."""
        limit = max(_JOIN_LIMIT_S, 3 * self.settings.consumer_session_timeout_ms / 1000)
        return self._joining_since is not None and now - self._joining_since > limit

    def _on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._rebalances += 1  # every batch is committed before the next poll: nothing is pending at a rebalance

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._all_down.set()
        if error.code() in _BROKER_AWAY:
            self._waiting_for_broker(error)

    def _maybe_check(self, consumer: Consumer) -> None:
        """Every few seconds: lag per partition, whether the broker answers, whether input waits unprocessed."""
        now = time.monotonic()
        if now - self._last_check < _CHECK_EVERY_S:
            return
        self._last_check = now
        lookout = self._lookout
        assert lookout is not None
        try:
            cluster = lookout.list_topics(timeout=2.0)
        except KafkaException:
            # A batch committed since the last check proves a broker answers: on a machine short of CPU the
            # metadata can be slow, and a false alarm would replace the consumer and rebalance its group.
            if now - self._last_progress > _CHECK_EVERY_S:
                self._on_client_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
            return
        used = {*self.spec.inputs, *self.spec.outputs}
        self.metrics.under_replicated.labels(self.spec.service).set(under_replicated(cluster, used))
        silent = _silent_leaders(lookout, cluster, used)
        if silent:
            # One broker answering is not enough: a leader that does not (a lost controller quorum keeps dead
            # brokers in the metadata) holds partitions nothing can be read from or committed to.
            self._waiting_for_broker(KafkaError(KafkaError._TRANSPORT, f"leaders muets : {sorted(silent)}"))
            return
        if self.trouble == BROKER_DOWN:
            self.trouble = None
            self._report()
        if self._join_stuck(now):
            log.warning("hop.adhesion_bloquee", service=self.spec.service, groupe=self.group_id)
            self._all_down.set()  # the loop's way to a new consumer, from the committed offsets
            return
        if now - self._last_progress > _PROBE_IDLE_S and not self._can_write(now):
            return
        waiting = 0
        assignment = consumer.assignment()
        positions = consumer.position(assignment) if assignment else []
        for tp in positions:
            _, high = consumer.get_watermark_offsets(tp, cached=True)
            lag = max(0, high - tp.offset) if tp.offset >= 0 and high >= 0 else 0
            waiting += lag
            self.metrics.consumer_lag.labels(self.spec.service, tp.topic, str(tp.partition)).set(lag)
        stalled = waiting and now - self._last_progress > STALL_AFTER_S
        if stalled and self.trouble is None:
            log.warning("hop.bloque", service=self.spec.service, messages_en_attente=waiting)
            self.trouble = f"aucun progrès depuis {STALL_AFTER_S:.0f} s avec {waiting} message(s) en attente"
            self._report()
            if self._failures == 0:  # nothing fails, yet nothing is read: the consumer itself is stuck
                self._all_down.set()
        elif not waiting and self.trouble and self._failures == 0 and self.ready and self.trouble not in _STICKY:
            self.trouble = None
            self._report()

    def _can_write(self, now: float) -> bool:
        """Whether an idle hop could still commit: a record on the probe topic, in a transaction when the hop uses
        them. Leaders that answer reads may still accept no write (a lost controller quorum keeps the in-sync
        replicas they wait for): a hop with nothing to do would otherwise say it is ready and fail on its next
        input. Only a successful probe clears what a failed one reported."""
        producer = self._producer
        if producer is None or now - self._last_probe < _PROBE_EVERY_S:
            return self.trouble != WRITE_BLOCKED
        self._last_probe = now
        transactional = self.guarantee is Guarantee.TRANSACTIONS
        marker = f"ecriture:{self.spec.service}".encode()
        try:
            if transactional:
                producer.begin_transaction()
                producer.produce(topics.PROBE_TOPIC, marker)
                _bounded(lambda: producer.commit_transaction(_RETRIED_CALL_S))
            else:
                producer.produce(topics.PROBE_TOPIC, marker)
                if producer.flush(_RETRIED_CALL_S):
                    raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "sonde d'écriture sans accusé"))
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if self.trouble != WRITE_BLOCKED:
                log.warning("hop.ecriture_impossible", service=self.spec.service, erreur=error.name())
            if transactional:  # a new producer with the same id aborts whatever this one left open
                threading.Thread(target=_abort_quietly, args=(producer,), name="hop-abandon", daemon=True).start()
                self._producer = None
            self.trouble = WRITE_BLOCKED
            self._report()
            return False
        if self.trouble in (WRITE_BLOCKED, PRODUCE_FAILED):  # a write went through: so would the next batch's
            log.info("hop.ecriture_retablie", service=self.spec.service, apres_echecs=self._failures)
            self._failures = 0
            self.trouble = None
            self._report()
        return True

    # ------------------------------------------------------------------ the pure part

    def process_batch(self, batch: Sequence[Incoming]) -> tuple[list[Output], list[str]]:
        """Outputs of a batch and the keys of the inputs they settle; duplicates are skipped."""
        tally = Tally()
        outputs: list[Output] = []
        done: dict[str, None] = {}  # the keys settled, in input order
        fresh: list[Incoming] = []
        # Asked once per batch: a debug call per message costs several microseconds even when filtered out.
        debug = log.bind().is_enabled_for(logging.DEBUG)
        for incoming in batch:
            key = incoming.dedupe_key
            if key in self.seen or key in done:
                headers = incoming.headers
                tally.count("in", headers.get("ce_source", "?"), subject_of(headers.get("ce_type", "?")), "doublon")
                continue
            done[key] = None
            fresh.append(incoming)
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
        for incoming, produced in translate(self.processor, fresh, tally):
            if isinstance(produced, Exception):  # a bug must not block the partition: the input goes to the DLQ
                log.error("hop.erreur_interne", service=self.spec.service, where=incoming.where, exc_info=produced)
                problem = Problem("erreur_interne", f"erreur interne du service : {type(produced).__name__}")
                produced = self._failed(incoming, problem, tally)
            elif not produced and self.spec.accounts_every_input:
                problem = Problem("aucun_resultat", "le message n'a produit ni événement ni erreur")
                produced = self._failed(incoming, problem, tally)
            elif any(len(o.value) > self.budget.max_bytes // 2 for o in produced):
                produced = self._bounded(incoming, produced, tally)
            outputs.extend(produced)
        self._flush(tally)
        return outputs, list(done)

    def _failed(self, incoming: Incoming, problem: Problem, tally: Tally) -> list[Output]:
        sender = topics.sender_of(incoming.topic)
        # Feedback only to a partner this hop knows: a topic that does not exist would stall the batch.
        known = sender if sender and topics.feedback(sender) in self.spec.outputs else None
        event = subject_of(incoming.headers.get("ce_type") or "") or None
        failure = Failure(self.spec.service, known, (problem,), event=event)
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
        """Outputs not caused by a consumed record (the indicators' periodic events), committed like a batch."""
        if outputs:
            await asyncio.to_thread(self._publish, outputs)

    def _publish(self, outputs: Sequence[Output]) -> None:
        producer = self._producer
        assert producer is not None, "hop not started"
        with self._lock:
            if self.guarantee is Guarantee.TRANSACTIONS:
                producer.begin_transaction()
                try:
                    self._produce_all(producer, outputs)
                    producer.commit_transaction(_CALL_TIMEOUT_S)
                except KafkaException:
                    with contextlib.suppress(KafkaException):
                        producer.abort_transaction(_CALL_TIMEOUT_S)
                    raise
            else:
                self._produce_and_wait(producer, outputs)

    def _flush(self, tally: Tally) -> None:
        tally.flush(self.metrics, self.spec.service)


@dataclass(frozen=True, slots=True)
class _Undelivered:
    topic: str
    key: bytes | None
    value: bytes
    error: KafkaError


def _outputs_of(reports: Sequence[_Undelivered], outputs: Sequence[Output]) -> list[tuple[Output, KafkaError]]:
    """Each undelivered record's output, found by its topic, key and value: librdkafka's delivery report does not
    carry the headers a dead letter keeps (the event's id, its cause)."""
    sent: dict[tuple[str, bytes | None, bytes], list[Output]] = {}
    for output in outputs:
        sent.setdefault((output.topic, output.key, output.value), []).append(output)
    found: list[tuple[Output, KafkaError]] = []
    for report in reports:
        same = sent.get((report.topic, report.key, report.value))
        # A report without its output is a record of an earlier, failed batch, reported late: known by its topic.
        output = same.pop(0) if same else Output(report.topic, report.value, report.key, [])
        found.append((output, report.error))
    return found


# What _silent_leaders reports for a partition that has no leader at all.
NO_LEADER = -1


def under_replicated(cluster: ClusterMetadata, topics_used: Collection[str]) -> int:
    """How many partitions of ``topics_used`` have fewer in-sync replicas than replicas: one more loss away from
    refusing writes (``min.insync.replicas``), or from losing data."""
    count = 0
    for name in topics_used:
        topic = cluster.topics.get(name)
        for partition in topic.partitions.values() if topic is not None and topic.error is None else ():
            count += len(partition.isrs) < len(partition.replicas)
    return count


def _silent_leaders(
    consumer: Consumer, cluster: ClusterMetadata, topics_used: Collection[str], timeout_s: float = 1.0
) -> set[int]:
    """The brokers leading a partition of ``topics_used`` that do not answer a watermark query on one of them,
    and ``NO_LEADER`` if one of those partitions has no leader: either way the hop cannot progress there."""
    one_each: dict[int, TopicPartition] = {}
    silent: set[int] = set()
    for name in topics_used:
        topic = cluster.topics.get(name)
        for partition in topic.partitions.values() if topic is not None and topic.error is None else ():
            if partition.leader < 0:
                silent.add(NO_LEADER)
            else:
                one_each.setdefault(partition.leader, TopicPartition(name, partition.id))
    for leader, tp in one_each.items():
        try:
            answered = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        except KafkaException:
            answered = None
        if answered is None:
            silent.add(leader)
    return silent


def _headers(output: Output) -> Any:
    return output.headers  # librdkafka takes (str, bytes) pairs; its stubs ask for a wider union


def _next_offsets(records: Sequence[Message]) -> list[TopicPartition]:
    """The offsets to commit: one past the last record read of each partition."""
    last: dict[tuple[str, int], int] = {}
    for record in records:
        last[(str(record.topic()), int(record.partition() or 0))] = int(record.offset() or 0)
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def _first_offsets(records: Sequence[Message]) -> list[TopicPartition]:
    first: dict[tuple[str, int], int] = {}
    for record in records:
        first.setdefault((str(record.topic()), int(record.partition() or 0)), int(record.offset() or 0))
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in first.items()]


def _arrived(consumer: Consumer, most: int, wait_s: float) -> list[Message]:
    """What has arrived, up to ``most`` records, as soon as there is one: librdkafka's consume(n, timeout) would
    wait out the whole timeout for n records, and every hop would add that wait to each record's latency."""
    first: list[Message] = consumer.consume(1, wait_s)
    return first + consumer.consume(most - 1, 0) if first and most > 1 else first


def call_hook(processor: Processor, hook: str) -> None:
    """Call the processor's optional ``commit`` or ``rollback``."""
    method = getattr(processor, hook, None)
    if method is not None:
        method()


def _headers_size(headers: Sequence[tuple[str, bytes]]) -> int:
    return sum(len(k) + len(v) for k, v in headers)


async def _with_backoff(what: str, service: str, action: Callable[[], Awaitable[T]]) -> T:
    """Retry a start-up step while the broker is unreachable, waiting longer each time, until cancelled."""
    delay = 0.5
    while True:
        try:
            return await action()
        except (AioKafkaError, OSError, TimeoutError) as exc:
            log.warning("hop.demarrage_en_attente", service=service, etape=what, erreur=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)


def _bounded(call: Callable[[], None], timeout_s: float = _RETRIED_CALL_S + 5.0) -> None:
    """``call`` in a daemon thread; past ``timeout_s`` its client is given up (the caller replaces the producer)
    and the thread left to librdkafka."""
    done = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting loop as it is
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="hop-appel-borne", daemon=True).start()
    if not done.wait(timeout_s):
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"pas de réponse du coordinateur en {timeout_s:.0f} s"))
    if failure:
        raise failure[0]


def _abort_quietly(producer: Producer) -> None:
    """Away from the loop: an abort can wait on a broker that does not answer."""
    with contextlib.suppress(KafkaException, RuntimeError):
        producer.abort_transaction(1.0)


def _close_quietly(consumer: Consumer) -> None:
    with contextlib.suppress(KafkaException, RuntimeError):
        consumer.close()


async def _in_daemon_thread(call: Callable[[], Any]) -> None:
    """Run a blocking client call in a daemon thread: librdkafka's close can hang on a broker that went away
    (confluent-kafka-python#1667), and a thread of the default executor would then keep the process alive."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def target() -> None:
        error: Exception | None = None
        try:
            call()
        except (KafkaException, RuntimeError) as exc:  # handed to the awaiting side
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed while the call hung: nobody waits any more
            loop.call_soon_threadsafe(_settle, done, error)

    threading.Thread(target=target, name="hop-fermeture", daemon=True).start()
    await done


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


async def _bounded_step(what: str, service: str, step: Awaitable[Any], timeout_s: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await step
    except TimeoutError:
        log.warning("hop.arret_force", service=service, etape=what, apres_s=timeout_s)
