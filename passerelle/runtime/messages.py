"""What a hop reads and what it writes, independent of the Kafka client library."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, NamedTuple

from passerelle.core.envelope import Headers, header_dict
from passerelle.core.headers import REPLAY

_IDS = uuid.UUID("6f1c1c1e-4b7a-4c59-9d0e-2f5a2b7d9e10")
_IDS_BYTES = _IDS.bytes


def derived_id(*parts: str) -> str:
    """A stable event id for an output: the same input always yields the same ids.

    Exactly ``str(uuid.uuid5(_IDS, "|".join(parts)))``, written from SHA-1's hexadecimal digest with its version
    and variant digits set, without building a UUID object per output (that was 7 % of a hop's handler).
    """
    h = hashlib.sha1(_IDS_BYTES + "|".join(parts).encode()).hexdigest()  # noqa: S324 - UUID v5 is SHA-1
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


# RFC 4122's variant: the two high bits of the clock sequence's first byte are 10.
_VARIANT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


# Incoming and Output are NamedTuples, immutable like a frozen dataclass without its ``__setattr__`` per field:
# a hop builds one Incoming per record it reads and one Output per record it writes.
class Incoming(NamedTuple):
    """One consumed record, with its headers decoded once."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    raw_headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    @classmethod
    def from_record(cls, record: Any) -> Incoming:
        raw = tuple(record.headers or ())
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value or b"",
            headers=header_dict(raw),
            raw_headers=raw,
            timestamp_ms=record.timestamp,
        )

    @classmethod
    def from_confluent(cls, message: Any) -> Incoming:
        """From a librdkafka message (``confluent_kafka.Message``)."""
        raw = tuple(message.headers() or ())
        return cls(
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=message.key(),
            value=message.value() or b"",
            headers=header_dict(raw),
            raw_headers=raw,
            timestamp_ms=message.timestamp()[1],
        )

    @property
    def input_id(self) -> str:
        """The sender's ``ce_id``; a native message sent without one is identified by its content."""
        return self.headers.get("ce_id") or "sha256:" + hashlib.sha256(self.value).hexdigest()

    @property
    def dedupe_key(self) -> str:
        replay = self.headers.get(REPLAY)
        return f"{self.input_id}#{replay}" if replay else self.input_id

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


class Output(NamedTuple):
    """One record to produce. Headers always carry the cause, so a restarted hop can skip done work."""

    topic: str
    value: bytes
    key: bytes | None
    headers: Headers
