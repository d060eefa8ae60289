"""The pull API's reader: a partner's ``out.`` and ``feedback.`` records from a cursor, and its acknowledgements.

The acknowledged cursor is the committed offsets of the consumer group ``passerelle.gateway.pull.<partner>``, so
it survives a restart and is shared by replicas; a read without a cursor starts there (from the oldest record
kept when nothing was ever acknowledged). Each partner has one consumer, assigned to its partitions by hand (no
group membership: reading never moves the acknowledged position), used by one request at a time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import log_ends, partitions_of
from passerelle.core.envelope import header_dict
from passerelle.settings import Settings
from services.gateway.cursor import Cursor, Position

log = structlog.get_logger("passerelle.gateway")

GROUP_PREFIX = "passerelle.gateway.pull."
MAX_LIMIT = 500
MAX_WAIT_S = 30.0
_GATHER_S = 0.05  # once something arrived, a moment more for what came with it
_FETCH_S = 5.0  # the longest a read waits for records it knows are there


def pull_group(partner: str) -> str:
    return f"{GROUP_PREFIX}{partner}"


def partner_topics(partner: str) -> tuple[str, str]:
    return topics.outbound(partner), topics.feedback(partner)


@dataclass(frozen=True)
class Event:
    """One record as the pull API shows it, with the cursor that acknowledges it and everything read before it."""

    cursor: str
    topic: str
    headers: Mapping[str, str]
    value: bytes

    def as_json(self) -> dict[str, Any]:
        try:
            content, encoding = self.value.decode("utf-8"), "texte"
        except UnicodeDecodeError:  # a Latin-1 CSV export is given as it was delivered, not re-encoded
            content, encoding = base64.b64encode(self.value).decode(), "base64"
        return {
            "curseur": self.cursor,
            "flux": topics.family_of(self.topic).value,
            "id": self.headers.get("ce_id"),
            "idCorrelation": self.headers.get("correlation_id"),  # the idMessage the gateway answered the sender
            "type": self.headers.get("ce_type"),
            "horodatage": self.headers.get("ce_time"),
            "typeContenu": self.headers.get("content-type"),
            "encodage": encoding,
            "contenu": content,
        }


@dataclass(frozen=True)
class Page:
    events: list[Event]
    cursor: str


class EventSource(Protocol):
    async def read(self, partner: str, after: Cursor | None, limit: int, wait_s: float) -> Page: ...

    async def acknowledge(self, partner: str, cursor: Cursor) -> None: ...

    async def acknowledged(self, partner: str) -> Cursor: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class _Reader:
    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _within_log(positions: Mapping[Position, int], ends: Mapping[TopicPartition, int]) -> dict[Position, int]:
    """Positions past a partition's end brought back to it: a forged cursor must not send a reader back to the
    start (the consumer's answer to an offset out of range)."""
    return {(t, p): min(o, ends.get(TopicPartition(t, p), o)) for (t, p), o in positions.items()}


@dataclass
class KafkaEvents:
    settings: Settings
    _readers: dict[str, _Reader] = field(default_factory=dict)
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> None:
        return None  # each partner's consumer opens at its first request

    async def stop(self) -> None:
        for reader in self._readers.values():
            with contextlib.suppress(Exception):
                await reader.consumer.stop()
        self._readers.clear()

    async def read(self, partner: str, after: Cursor | None, limit: int, wait_s: float) -> Page:
        reader = await self._reader(partner)
        async with reader.lock:
            ends = await log_ends(reader.consumer, reader.partitions)
            start = _within_log(await self._start(reader, after), ends)
            for tp in reader.partitions:
                reader.consumer.seek(tp, start[(tp.topic, tp.partition)])
            # Records already there are answered even without attente: a first fetch needs a round trip.
            waiting = any(start[(tp.topic, tp.partition)] < ends[tp] for tp in reader.partitions)
            records = await self._collect(reader, limit, max(wait_s, _FETCH_S) if waiting else wait_s)
        cursor = Cursor(start)
        events: list[Event] = []
        for record in records:
            cursor = cursor.after(record.topic, record.partition, record.offset)
            headers = header_dict(record.headers or ())
            events.append(Event(cursor.encode(), record.topic, headers, record.value or b""))
        return Page(events, cursor.encode())

    async def acknowledge(self, partner: str, cursor: Cursor) -> None:
        reader = await self._reader(partner)
        async with reader.lock:
            ends = await log_ends(reader.consumer, reader.partitions)
            known = {(tp.topic, tp.partition) for tp in reader.partitions}
            positions = _within_log({place: o for place, o in cursor.positions.items() if place in known}, ends)
            offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in positions.items()}
            await reader.consumer.commit(offsets)

    async def acknowledged(self, partner: str) -> Cursor:
        reader = await self._reader(partner)
        async with reader.lock:
            return Cursor(await self._start(reader, None))

    async def _collect(self, reader: _Reader, limit: int, wait_s: float) -> list[Any]:
        """Up to ``limit`` records: at once when some are there, else the first to come within ``wait_s``."""
        records: list[Any] = []
        deadline = time.monotonic() + wait_s
        while len(records) < limit:
            left = deadline - time.monotonic()
            timeout = _GATHER_S if records else max(0.0, left)
            batches = await reader.consumer.getmany(
                *reader.partitions, timeout_ms=int(timeout * 1000), max_records=limit - len(records)
            )
            got = [record for batch in batches.values() for record in batch]
            records.extend(got)
            if (not got and records) or left <= 0:
                break
        return records[:limit]

    async def _start(self, reader: _Reader, after: Cursor | None) -> dict[Position, int]:
        """Where to read from: the cursor's positions, the acknowledged ones for the rest, else the oldest kept."""
        consumer = reader.consumer
        oldest = await consumer.beginning_offsets(reader.partitions)
        start: dict[Position, int] = {}
        for tp in reader.partitions:
            committed = await consumer.committed(tp)
            start[(tp.topic, tp.partition)] = max(oldest[tp], committed if committed is not None else 0)
        return dict(after.within(start).positions) if after is not None else start

    async def _reader(self, partner: str) -> _Reader:
        async with self._opening:
            reader = self._readers.get(partner)
            if reader is None:
                reader = await self._open(partner)
                self._readers[partner] = reader
            return reader

    async def _open(self, partner: str) -> _Reader:
        settings = self.settings
        consumer = AIOKafkaConsumer(
            **KafkaAccess.of(settings).aiokafka(),
            group_id=pull_group(partner),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            partitions: list[TopicPartition] = []
            for topic in partner_topics(partner):
                partitions += [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
            consumer.assign(partitions)
        except BaseException:
            await consumer.stop()
            raise
        log.info("passerelle.lecture_ouverte", partner=partner, partitions=len(partitions))
        return _Reader(consumer, partitions)


@dataclass
class MemoryEvents:
    """A partner's events held in memory: for the gateway's route tests without a broker."""

    records: dict[str, list[tuple[str, dict[str, str], bytes]]] = field(default_factory=dict)
    _acknowledged: dict[str, Cursor] = field(default_factory=dict)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def read(self, partner: str, after: Cursor | None, limit: int, _wait_s: float) -> Page:
        acknowledged = self._acknowledged.get(partner, Cursor())
        cursor = after.within(acknowledged.positions) if after is not None else acknowledged
        events: list[Event] = []
        offsets: dict[str, int] = {}
        for topic, headers, value in self.records.get(partner, []):
            offset = offsets[topic] = offsets.get(topic, -1) + 1  # one partition per topic here
            if offset < cursor.positions.get((topic, 0), 0) or len(events) >= limit:
                continue
            cursor = cursor.after(topic, 0, offset)
            events.append(Event(cursor.encode(), topic, headers, value))
        return Page(events, cursor.encode())

    async def acknowledge(self, partner: str, cursor: Cursor) -> None:
        self._acknowledged[partner] = cursor

    async def acknowledged(self, partner: str) -> Cursor:
        return self._acknowledged.get(partner, Cursor())
