"""Idempotency-Key: the same key and body twice publish once; the same key with another body is refused.

Each answer given under a key is kept with the body's SHA-256 in a compacted Kafka topic (key: partner and
Idempotency-Key), which every replica reads to its end before it is ready and then follows, so the keys survive a
restart and are shared by replicas.

A crash between publishing the pieces and writing the key cannot publish twice: the pieces' ``ce_id`` are derived
from the partner and the key (``piece_id``), so the second attempt publishes the same ids, which the adapters
skip as inputs already done (``passerelle/runtime/dedupe.py``), and two replicas racing on one key do the same.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, Producer, TopicPartition

from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.clients import consumer_config, producer_config
from passerelle.broker.topics import DAY_MS, TopicSpec
from passerelle.runtime.messages import derived_id
from passerelle.settings import Settings

log = structlog.get_logger("passerelle.gateway")

TOPIC = "_passerelle.gateway.idempotence"
READER_GROUP = "passerelle.gateway"
KEY_RETENTION_MS = 7 * DAY_MS  # as long as in.<partner> keeps what was published under the key
_RECORD_LIMIT = 1_000_000


def keys_topic(name: str = TOPIC) -> TopicSpec:
    """One partition, compacted (a key's last answer kept), and forgotten with the inputs it answered for."""
    return TopicSpec(name, 1, KEY_RETENTION_MS, {"cleanup.policy": "compact,delete"})


def message_id(partner: str, key: str | None) -> str:
    """The id of one request's message: derived from the Idempotency-Key when given, else new."""
    return derived_id("gateway", partner, key) if key else str(uuid.uuid4())


def piece_id(message: str, number: int) -> str:
    """The ``ce_id`` of the message's ``number``-th piece (from 1): distinct pieces, stable across attempts."""
    return f"{message}#{number}"


@dataclass(frozen=True)
class Answer:
    """What the gateway answered under a key, and the SHA-256 of what it answered for (event, type and body)."""

    digest: str
    status: int
    body: dict[str, Any]

    def encode(self) -> bytes:
        return orjson.dumps({"empreinte": self.digest, "statut": self.status, "reponse": self.body})

    @classmethod
    def decode(cls, value: bytes) -> Answer:
        data = orjson.loads(value)
        return cls(str(data["empreinte"]), int(data["statut"]), dict(data["reponse"]))


def record_key(partner: str, key: str) -> str:
    return f"{partner}\n{key}"  # a newline: neither a partner id nor an HTTP header value holds one


class AnswerStore(Protocol):
    @property
    def trouble(self) -> str | None:
        """Why the keys cannot all be known yet; None when they can."""

    @property
    def why_dead(self) -> str | None:
        """What only a restart mends; None otherwise."""

    def get(self, partner: str, key: str) -> Answer | None: ...

    async def put(self, partner: str, key: str, answer: Answer) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MemoryAnswers:
    """One replica's memory, lost at stop: for tests and a gateway without a broker."""

    def __init__(self) -> None:
        self._answers: dict[str, Answer] = {}

    @property
    def trouble(self) -> str | None:
        return None

    @property
    def why_dead(self) -> str | None:
        return None

    def get(self, partner: str, key: str) -> Answer | None:
        return self._answers.get(record_key(partner, key))

    async def put(self, partner: str, key: str, answer: Answer) -> None:
        self._answers[record_key(partner, key)] = answer

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class KafkaAnswers:
    """The answers kept in a compacted topic: read to its end at start by a reader thread, then followed."""

    def __init__(self, settings: Settings, topic: str = TOPIC, wait_s: float = 30.0) -> None:
        self.settings = settings
        self.topic = topic
        self.wait_s = wait_s
        self._answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self._caught_up = threading.Event()
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._producer: Producer | None = None

    @property
    def why_dead(self) -> str | None:
        if self._reader is not None and not self._reader.is_alive() and not self._stopping.is_set():
            return "lecteur des clés d'idempotence arrêté"
        return None

    @property
    def trouble(self) -> str | None:
        return self.why_dead or (None if self._caught_up.is_set() else "clés d'idempotence en cours de lecture")

    async def start(self) -> None:
        access = KafkaAccess.of(self.settings)
        await ensure_topics(access, [keys_topic(self.topic)], self.settings.gateway_replication_factor)
        self._producer = Producer(producer_config(self.settings, max_message_bytes=_RECORD_LIMIT))
        self._reader = threading.Thread(target=self._read, name="passerelle-cles", daemon=True)
        self._reader.start()
        if not await asyncio.to_thread(self._caught_up.wait, self.wait_s):
            raise TimeoutError(f"{self.topic} non relu en {self.wait_s:.0f} s")
        log.info("passerelle.cles_lues", topic=self.topic, cles=len(self._answers))

    async def stop(self) -> None:
        self._stopping.set()
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 10.0)
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, 5.0)

    def get(self, partner: str, key: str) -> Answer | None:
        with self._lock:
            return self._answers.get(record_key(partner, key))

    async def put(self, partner: str, key: str, answer: Answer) -> None:
        await asyncio.to_thread(self._write, record_key(partner, key), answer)
        with self._lock:  # known here at once; the reader applies the same record again
            self._answers[record_key(partner, key)] = answer

    def _write(self, key: str, answer: Answer) -> None:
        assert self._producer is not None
        failures: list[Any] = []
        self._producer.produce(
            self.topic,
            key=key.encode(),
            value=answer.encode(),
            partition=0,
            on_delivery=lambda error, _message: failures.append(error) if error else None,
        )
        if self._producer.flush(self.wait_s) > 0:
            raise TimeoutError(f"{self.topic} n'a pas accusé réception de la clé")
        if failures:
            raise KafkaException(failures[0])

    def _read(self) -> None:
        consumer = Consumer(consumer_config(self.settings, READER_GROUP, read_committed=True))
        partition = TopicPartition(self.topic, 0, OFFSET_BEGINNING)
        _low, end = consumer.get_watermark_offsets(partition, timeout=self.wait_s)
        consumer.assign([partition])
        if end <= 0:
            self._caught_up.set()
        try:
            while not self._stopping.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    if not self._caught_up.is_set() and consumer.position([partition])[0].offset >= end:
                        self._caught_up.set()  # the log's last offsets were compacted away or are markers
                    continue
                if message.error() is not None:
                    log.warning("passerelle.cles_lecture_en_erreur", erreur=str(message.error()))
                    continue
                self._apply(message)
                if (message.offset() or 0) + 1 >= end:
                    self._caught_up.set()
        finally:
            consumer.close()

    def _apply(self, message: Message) -> None:
        key, value = message.key(), message.value()
        if not key:
            return
        with self._lock:
            if value is None:  # a tombstone: the key may be used again
                self._answers.pop(key.decode(), None)
                return
            try:
                self._answers[key.decode()] = Answer.decode(value)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                log.warning("passerelle.cle_ignoree", topic=self.topic, offset=message.offset(), motif=str(exc))
