"""Where the gateway writes the pieces: ``in.<partner>``, as the partner itself would, every piece acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaProducer

from passerelle.broker.producer import start_producer
from passerelle.settings import Settings
from services.gateway.intake import Piece

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # as ``passerelle ingest``


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, pieces: Iterable[Piece]) -> int:
        """Send every piece and wait for each acknowledgement; the number of pieces."""


@dataclass
class KafkaPublisher:
    settings: Settings
    _producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = await start_producer(self.settings, max_request_size=MAX_REQUEST_BYTES, linger_ms=10)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, topic: str, pieces: Iterable[Piece]) -> int:
        assert self._producer is not None, "publisher not started"
        futures = [await self._producer.send(topic, value, headers=headers) for value, headers in pieces]
        await asyncio.gather(*futures)
        return len(futures)


@dataclass
class MemoryPublisher:
    """Keeps what would be published: for tests of the gateway's decisions without a broker."""

    sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, pieces: Iterable[Piece]) -> int:
        batch = [(topic, value, headers) for value, headers in pieces]
        self.sent.extend(batch)
        return len(batch)
