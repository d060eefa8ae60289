"""Where the registry's records live: in memory (one replica, nothing kept), or in Kafka's ``_schemas`` topic.

On Kafka every replica reads the whole topic from its start and applies each record in the log's order, so all
hold the same state and a restart loses nothing. Writers take turns through one transactional id: a write
starts a new producer with it, which fences any other replica's producer and settles its open transaction; it
then writes a NOOP marker and reads it back, so its decision is made on everything written before, and commits
its records only if no other writer fenced it meanwhile (it starts again otherwise). A broker without
transactions gets plain writes, safe with one replica.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import structlog
from aiokafka.errors import KafkaError as AIOKafkaError
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.clients import consumer_config, producer_config, refuses_transactions
from passerelle.settings import Settings
from services.registry.records import Record, UnreadableRecord, decode, noop_record
from services.registry.store import RegistryError, RegistryStore

log = structlog.get_logger("passerelle.registry")

T = TypeVar("T")
Decision = Callable[[RegistryStore], tuple[T, list[Record]]]

# The registry's transactional id, shared by its replicas so that only one writes at a time, and its readers' group.
WRITER_ID = "passerelle.registry"
READER_GROUP = "passerelle.registry"
_RECORD_LIMIT = 1_000_000  # the topic's records are schemas: far under Kafka's default message limit
_ATTEMPTS = 12
_JITTER = random.SystemRandom()


class Overruled(Exception):
    """Another replica wrote the same version first (a broker without transactions): decide again."""


class JournalUnavailable(Exception):
    """The log cannot be read or written now (the broker away or refusing): the registry says so and retries."""


class Journal(Protocol):
    store: RegistryStore

    @property
    def trouble(self) -> str | None:
        """Why the registry cannot answer with all that was written yet; None when it can."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def write(self, decide: Decision[T]) -> T:
        """Decide on the latest state, write what was decided, and return once this replica has applied it."""


class MemoryJournal:
    """One replica's memory: what is registered is lost at stop. For ``registry serve`` without a broker."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store
        self._lock = threading.Lock()

    @property
    def trouble(self) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def write(self, decide: Decision[T]) -> T:
        with self._lock:
            result, records = decide(self.store)
            for record in records:
                self.store.apply(record)
            return result


class KafkaJournal:
    """The registry's state kept in a compacted Kafka topic, shared by every replica."""

    def __init__(
        self,
        settings: Settings,
        store: RegistryStore,
        topic: str = topics.SCHEMAS_TOPIC,
        replication_factor: int = 1,
        wait_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.topic = topic
        self.replication_factor = replication_factor
        self.wait_s = wait_s
        self._applied = -1  # offset of the last record read back and applied
        self._changed = threading.Condition()
        self._writing = threading.Lock()  # one write at a time in this replica
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._transactional = True
        self._trouble: str | None = "lecture du journal des schémas pas encore faite"

    @property
    def trouble(self) -> str | None:
        if self._reader is not None and not self._reader.is_alive() and not self._stopping.is_set():
            return "lecteur du journal des schémas arrêté"
        return self._trouble

    async def start(self) -> None:
        """Read the log to its end; may be called again after a failure (the broker not there yet)."""
        self._trouble = "journal des schémas en cours de lecture"
        try:
            await ensure_topics(
                KafkaAccess.of(self.settings), [topics.schemas_topic(self.topic)], self.replication_factor
            )
            if self._reader is None:
                self._reader = threading.Thread(target=self._read, name="registre-lecteur", daemon=True)
                self._reader.start()
            # Reading back a marker of its own says all that came before is applied; the repository's contracts
            # missing from the log are written with it, so Karapace or Confluent's registry find them too.
            await asyncio.to_thread(self.write, lambda store: (None, store.plan_repository()))
        except (AIOKafkaError, KafkaException, RegistryError, OSError) as exc:
            self._trouble = f"journal des schémas injoignable ({type(exc).__name__})"
            raise JournalUnavailable(str(exc)) from exc
        self._trouble = None
        log.info("registre.journal_lu", topic=self.topic, enregistrements=self._applied + 1)

    async def stop(self) -> None:
        self._stopping.set()
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 10.0)

    def write(self, decide: Decision[T]) -> T:
        deadline = time.monotonic() + 2 * self.wait_s
        with self._writing:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    return self._write_once(decide)
                except (KafkaException, Overruled) as exc:
                    reason = exc.args[0].name() if isinstance(exc, KafkaException) else str(exc)
                    log.warning("registre.ecriture_reprise", essai=attempt, motif=reason)
                    if time.monotonic() > deadline:
                        break
                    time.sleep(_JITTER.uniform(0.1, 0.5) * attempt)  # two replicas fencing each other draw apart
            raise RegistryError(500, 50002, "Operation timed out: le journal des schémas n'a pas accepté l'écriture")

    def _write_once(self, decide: Decision[T]) -> T:
        producer = self._producer()
        marker = self._commit(producer, [noop_record()])
        self._wait_applied(marker)
        with self._changed:  # the reader applies nothing while the decision is made
            result, records = decide(self.store)
        if records:
            self._wait_applied(self._commit(producer, records))
            with self._changed:
                lost = self.store.lost(records)
            if lost:  # only without transactions: another replica wrote first
                self._wait_applied(self._commit(producer, lost))
                raise Overruled(f"{len(lost)} version(s) écrite(s) d'abord par une autre réplique")
        return result

    def _producer(self) -> Producer:
        if self._transactional:
            producer = Producer(
                producer_config(self.settings, max_message_bytes=_RECORD_LIMIT, transactional_id=WRITER_ID)
            )
            try:
                producer.init_transactions(self.wait_s)
                return producer
            except KafkaException as exc:
                if not refuses_transactions(exc.args[0]):
                    raise
                log.warning("registre.sans_transactions", detail="une seule réplique du registre doit écrire")
                self._transactional = False
        return Producer(producer_config(self.settings, max_message_bytes=_RECORD_LIMIT))

    def _commit(self, producer: Producer, records: list[Record]) -> int:
        """Write ``records`` (in one transaction when the broker has them); the offset of the last one."""
        offsets: list[int] = []
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failures.append(error)
            else:
                offsets.append(message.offset() or 0)

        if self._transactional:
            producer.begin_transaction()
        for record in records:
            producer.produce(
                self.topic, key=record.key_bytes(), value=record.value_bytes(), partition=0, on_delivery=delivered
            )
        if producer.flush(self.wait_s) > 0:
            raise RegistryError(500, 50002, "Operation timed out: le journal des schémas n'a pas répondu")
        if failures:
            raise KafkaException(failures[0])
        if self._transactional:
            producer.commit_transaction(self.wait_s)
        return max(offsets)

    def _wait_applied(self, offset: int) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._applied >= offset, self.wait_s):
                raise RegistryError(500, 50002, "Operation timed out: l'écriture n'a pas été relue à temps")

    def _read(self) -> None:
        consumer = Consumer(consumer_config(self.settings, READER_GROUP, read_committed=True))
        consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        try:
            while not self._stopping.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                if message.error() is not None:
                    log.warning("registre.lecture_en_erreur", erreur=str(message.error()))
                    continue
                self._apply(message)
        finally:
            consumer.close()

    def _apply(self, message: Message) -> None:
        offset = message.offset() or 0
        with self._changed:
            try:
                self.store.apply(decode(message.key(), message.value()))
            except (UnreadableRecord, KeyError, TypeError, ValueError) as exc:
                log.warning("registre.enregistrement_ignore", topic=self.topic, offset=offset, motif=str(exc))
            self._applied = offset
            self._changed.notify_all()
