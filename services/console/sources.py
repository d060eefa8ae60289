"""Where the console reads what it shows: the services' own /metrics and the DLQ topics, never a copy of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.producer import start_producer
from passerelle.broker.reader import TopicNotFound, collect
from passerelle.runtime.messages import Output
from passerelle.runtime.replay import DlqEntry
from passerelle.settings import Settings
from services.console.replays import JOURNAL_TOPIC

log = structlog.get_logger("passerelle.console")

_SCRAPE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Sample:
    """One sample of a scraped metric: its name (with ``_total`` for a counter), labels and value."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    """Every sample read from the services, and the URLs that did not answer."""

    samples: tuple[Sample, ...]
    unreachable: tuple[str, ...] = ()


class MetricsSource(Protocol):
    async def scrape(self) -> Scrape: ...


class DlqSource(Protocol):
    async def entries(self, services: Sequence[str]) -> list[DlqEntry]: ...


def parse_exposition(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition."""
    return [
        Sample(sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


class HttpMetrics:
    """Scrapes each service's /metrics URL on every page view: the counts are the services' own.

    The URLs are asked for at each scrape, so a local stack's restarted service is found at its new port.
    """

    def __init__(self, urls: Callable[[], Sequence[str]]) -> None:
        self.urls = urls

    async def scrape(self) -> Scrape:
        samples: list[Sample] = []
        unreachable: list[str] = []
        async with httpx.AsyncClient(timeout=_SCRAPE_TIMEOUT_S) as client:
            for url in self.urls():
                try:
                    response = await client.get(url)
                    response.raise_for_status()
                    samples += parse_exposition(response.text)
                except (httpx.HTTPError, ValueError) as error:
                    log.warning("console.metriques_injoignables", url=url, erreur=type(error).__name__)
                    unreachable.append(url)
        return Scrape(tuple(samples), tuple(unreachable))


class KafkaDlq:
    """Reads the dlq.<service> topics from the beginning, outside any consumer group, as ``passerelle dlq`` does."""

    def __init__(self, access: KafkaAccess) -> None:
        self.access = access

    async def entries(self, services: Sequence[str]) -> list[DlqEntry]:
        out: list[DlqEntry] = []
        for service in services:
            try:
                out += [DlqEntry.from_record(r) for r in await collect(self.access, topics.dlq(service))]
            except TopicNotFound:  # a service never deployed has no DLQ yet: nothing failed there
                continue
        return out


class KafkaTopics:
    """Any topic read whole, outside any consumer group: the audit journal, the replay journal, the outcomes."""

    def __init__(self, access: KafkaAccess) -> None:
        self.access = access

    async def records(self, topic: str) -> list[Any]:
        try:
            return await collect(self.access, topic)
        except TopicNotFound:  # nothing written there yet (the replay journal before a first replay)
            return []

    async def ensure_journal(self) -> None:
        """The replay journal: append-only and kept forever (who replayed what is an audit question)."""
        try:
            await ensure_topics(self.access, [topics.TopicSpec.of(JOURNAL_TOPIC)])
        except KafkaError as error:  # a principal without the right: the topic is the deployment's to create
            log.warning("console.journal_rejeux_non_cree", topic=JOURNAL_TOPIC, erreur=type(error).__name__)


class KafkaSender:
    """Produces with the console's own identity, as ``passerelle dlq replay`` does, and awaits every ack."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, outputs: Sequence[Output]) -> None:
        producer = await start_producer(self.settings)
        try:
            futures = [await producer.send(o.topic, o.value, key=o.key, headers=list(o.headers)) for o in outputs]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
