"""Webhook delivery: each record of ``out.<partner>`` and ``feedback.<partner>`` POSTed to the partner's webhook.

One consumer group per partner (``passerelle.gateway.webhook.<partner>``), so replicas share the partitions and a
record has one deliverer. Within a partition the records go one at a time, in order (a key lives in one
partition, so its order holds); the offset is committed only after the partner's 2xx. A failure puts the
partition back on the failed record and pauses it until the backoff says (``services.gateway.webhooks``): the
other partitions go on, nothing is skipped. Past the outage the profile allows, the partner is marked paused
(metric and alert) and its head record is tried once an hour, so a receiver that comes back is served again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import log_ends
from passerelle.core.envelope import header_dict
from passerelle.settings import Settings
from services.gateway.metrics import GatewayMetrics
from services.gateway.webhooks import (
    Retry,
    RetryPolicy,
    after_failure,
    delivered,
    request_headers,
    retry_after_s,
)

log = structlog.get_logger("passerelle.gateway")

GROUP_PREFIX = "passerelle.gateway.webhook."
_BATCH = 20  # bounded: a slow receiver must not hold the consumer past its poll interval
_POLL_MS = 500
_OBSERVE_EVERY_S = 2.0
_POLL_INTERVAL_MS = 15 * 60 * 1000  # a batch of slow answers, each bounded by the sender's timeout


def delivery_group(partner: str) -> str:
    return f"{GROUP_PREFIX}{partner}"


@dataclass(frozen=True)
class Destination:
    """A partner's webhook: where, with which secret, and the outage its profile allows (seconds)."""

    partner: str
    url: str
    secret: str
    outage_allowed_s: float


@dataclass(frozen=True)
class Reply:
    """The receiver's answer: its status (None when none came) and why it failed, for the metric's label."""

    status: int | None
    reason: str
    retry_after: str | None = None


class Sender(Protocol):
    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply: ...

    async def close(self) -> None: ...


@dataclass
class HttpSender:
    """httpx, no redirects followed (a signed body goes only where the profile says), a bounded wait."""

    timeout_s: float = 15.0
    # The receivers' certificates are checked against the system's authorities, or this context's.
    verify: ssl.SSLContext | bool = True
    _client: httpx.AsyncClient | None = None

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False, verify=self.verify)
        try:
            answer = await self._client.post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException:
            return Reply(None, "delai")
        except httpx.HTTPError:
            return Reply(None, "reseau")
        return Reply(answer.status_code, str(answer.status_code), answer.headers.get("retry-after"))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _headers_of(record: Any) -> dict[str, str]:
    return header_dict(record.headers or ())


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """A partition handed to another replica takes its retry state with it (the next owner starts afresh)."""

    def __init__(self, delivery: PartnerDelivery) -> None:
        self.delivery = delivery

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self.delivery.forget(tp)

    async def on_partitions_assigned(self, _assigned: list[TopicPartition]) -> None:
        return None


@dataclass
class PartnerDelivery:
    settings: Settings
    destination: Destination
    sender: Sender
    metrics: GatewayMetrics
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None
    _retries: dict[TopicPartition, Retry] = field(default_factory=dict)
    _heads: dict[TopicPartition, float] = field(default_factory=dict)  # failed record's timestamp (s)
    _last_delivered: float | None = None
    _observed: float = 0.0

    @property
    def partner(self) -> str:
        return self.destination.partner

    @property
    def paused(self) -> bool:
        return any(retry.paused for retry in self._retries.values())

    async def start(self) -> None:
        settings = self.settings
        self._consumer = AIOKafkaConsumer(
            **KafkaAccess.of(settings).aiokafka(),
            group_id=delivery_group(self.partner),
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a webhook newly named gets what out.<partner> still keeps
            isolation_level="read_committed",
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=max(500, settings.consumer_session_timeout_ms // 3),
            max_poll_interval_ms=_POLL_INTERVAL_MS,
        )
        await self._consumer.start()
        self._consumer.subscribe([topics.outbound(self.partner), topics.feedback(self.partner)], listener=_Forget(self))
        self.metrics.webhook_outage_allowed.labels(self.partner).set(self.destination.outage_allowed_s)
        self.metrics.webhook_paused.labels(self.partner).set(0)
        self._task = asyncio.create_task(self._run(), name=f"webhook-{self.partner}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def why_dead(self) -> str | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return f"livraison des webhooks de {self.partner} arrêtée"
        return None

    def forget(self, tp: TopicPartition) -> None:
        self._retries.pop(tp, None)
        self._heads.pop(tp, None)

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except KafkaError as exc:  # the broker away: the same records are read again once it is back
                log.warning("passerelle.webhook_broker_indisponible", partner=self.partner, motif=type(exc).__name__)
                await asyncio.sleep(1.0)
            except Exception as exc:
                # The type only: a traceback's locals would hold the message. /live then asks for a restart.
                log.error("passerelle.webhook_arrete", partner=self.partner, motif=type(exc).__name__)
                raise

    async def _round(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        now = self.clock()
        paused = consumer.paused()
        due = [tp for tp, retry in self._retries.items() if retry.at <= now and tp in paused]
        if due:
            consumer.resume(*due)
        waits = [retry.at - now for tp, retry in self._retries.items() if tp in consumer.paused()]
        wait_ms = int(min([_POLL_MS / 1000, *waits]) * 1000)
        batches = await consumer.getmany(timeout_ms=max(10, wait_ms), max_records=_BATCH)
        for tp, records in batches.items():
            for record in records:
                if not await self._deliver(consumer, tp, record):
                    break
        if self.clock() - self._observed >= _OBSERVE_EVERY_S:
            await self._observe(consumer)

    async def _deliver(self, consumer: AIOKafkaConsumer, tp: TopicPartition, record: Any) -> bool:
        """One attempt at one record: True when the partner took it (and the offset is committed)."""
        body: bytes = record.value or b""
        now = self.clock()
        place = (tp.topic, tp.partition, record.offset)
        sent = request_headers(self.destination.secret, _headers_of(record), place, body, now)
        previous = self._retries.get(tp)
        if previous is not None:
            self.metrics.webhook_retries.labels(self.partner).inc()
        reply = await self.sender.post(self.destination.url, sent, body)
        if delivered(reply.status):
            self._delivered(tp, record)
            try:
                await consumer.commit({tp: record.offset + 1})
            except KafkaError as exc:  # delivered but not noted: the next owner sends it again under the same id
                log.warning("passerelle.webhook_position_non_notee", partner=self.partner, motif=type(exc).__name__)
            return True
        self.metrics.webhook_failures.labels(self.partner, reply.reason).inc()
        retry = after_failure(
            previous.outage if previous else None,
            now,
            self.destination.outage_allowed_s,
            self.policy,
            retry_after_s(reply.retry_after, now),
        )
        if retry.paused and not self.paused:
            log.error("passerelle.webhook_suspendu", partner=self.partner, echecs=retry.outage.failures)
        elif previous is None:
            log.warning("passerelle.webhook_en_echec", partner=self.partner, motif=reply.reason)
        self._retries[tp] = retry
        self._heads.setdefault(tp, record.timestamp / 1000)
        consumer.seek(tp, record.offset)
        consumer.pause(tp)
        self._gauges(now)
        return False

    def _delivered(self, tp: TopicPartition, record: Any) -> None:
        flow = topics.family_of(tp.topic).value
        self.metrics.webhook_deliveries.labels(self.partner, flow).inc()
        if self._retries.pop(tp, None) is not None:
            log.info("passerelle.webhook_retabli", partner=self.partner)
        self._heads.pop(tp, None)
        self._last_delivered = record.timestamp / 1000
        self._gauges(self.clock())

    def _gauges(self, now: float) -> None:
        outages = [retry.outage.since for retry in self._retries.values()]
        self.metrics.webhook_failing.labels(self.partner).set(now - min(outages) if outages else 0.0)
        self.metrics.webhook_paused.labels(self.partner).set(1 if self.paused else 0)

    async def _observe(self, consumer: AIOKafkaConsumer) -> None:
        """The backlog: records after each partition's next one to deliver, and the age of the oldest waiting."""
        now = self.clock()
        self._observed = now
        assigned = list(consumer.assignment())
        if not assigned:
            return
        ends = await log_ends(consumer, assigned)
        backlog = 0
        for tp in assigned:
            with contextlib.suppress(KafkaError, AssertionError, TimeoutError):
                position = await asyncio.wait_for(consumer.position(tp), 1.0)
                backlog += max(0, ends.get(tp, position) - position)
        self.metrics.webhook_backlog.labels(self.partner).set(backlog)
        oldest = min(self._heads.values(), default=self._last_delivered if backlog else None)
        self.metrics.webhook_backlog_age.labels(self.partner).set(max(0.0, now - oldest) if oldest else 0.0)
        self._gauges(now)


@dataclass
class WebhookDeliveries:
    """Every partner's delivery, started and stopped with the gateway."""

    deliveries: list[PartnerDelivery]
    sender: Sender

    async def start(self) -> None:
        for delivery in self.deliveries:
            await delivery.start()
            log.info("passerelle.webhook_demarre", partner=delivery.partner)

    async def stop(self) -> None:
        for delivery in self.deliveries:
            with contextlib.suppress(KafkaError):
                await delivery.stop()
        await self.sender.close()

    @property
    def why_dead(self) -> str | None:
        return next((d.why_dead for d in self.deliveries if d.why_dead), None)

    def of(self, partner: str) -> PartnerDelivery | None:
        return next((d for d in self.deliveries if d.partner == partner), None)
