"""Webhook deliveries per second: the gateway's ``PartnerDelivery`` against a raw aiokafka + httpx loop, same run.

Both read the same records of ``out.<partner>`` on the embedded broker, each with a consumer group of its own,
and POST them one at a time, in each partition's order, to the same local receiver (a process of its own that
answers ``204``), committing each offset after its 2xx. The gateway's delivery does what it does in production:
the Standard Webhooks signature and id, the CloudEvents headers forwarded, the retry bookkeeping and the metrics.
The raw loop POSTs the body with the record's content type and commits, nothing else. The clock runs from the
first POST to the last 2xx, so neither the consumer group's join nor the first fetch counts. Each round fills the
topic of a partner of its own and runs both contenders on it, the first of one round the second of the next.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.brokers import BenchBroker
from bench.records import native_statut
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.topics import TopicSpec, feedback, outbound
from passerelle.settings import Settings
from services.gateway.delivery import Destination, HttpSender, PartnerDelivery, Reply, Sender
from services.gateway.metrics import GatewayMetrics
from services.gateway.webhooks import delivered, new_secret

GATEWAY = "passerelle, PartnerDelivery (signature, en-têtes, métriques)"
RAW = "boucle brute aiokafka + httpx"
_LIMIT_S = 120.0  # past this a run is stuck, not slow
_SETTLE_S = 1.0


@dataclass
class Clocked:
    """The gateway's own sender, noting the first POST and the last 2xx, and when the expected count is reached."""

    inner: Sender
    expected: int
    first: float = 0.0
    last: float = 0.0
    done: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        self.first = self.first or time.perf_counter()
        reply = await self.inner.post(url, headers, body)
        if delivered(reply.status):
            self.done += 1
            self.last = time.perf_counter()
            if self.done >= self.expected:
                self.finished.set()
        return reply

    async def close(self) -> None:
        await self.inner.close()


async def fill(broker: BenchBroker, partner: str, count: int, seed: int) -> None:
    """``count`` Region StatutCandidature records on ``out.<partner>``, keyed by dossier, as the adapter writes."""
    specs = [TopicSpec.of(outbound(partner)), TopicSpec.of(feedback(partner))]
    await ensure_topics(broker.access, specs, replication_factor=1, with_configs=False)
    rng = random.Random(seed)
    producer = AIOKafkaProducer(**broker.access.aiokafka(), enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for i in range(count):
            headers = [
                ("ce_id", f"bench-{partner}-{i}".encode()),
                ("ce_type", b"fr.passerelle.formation.StatutCandidature"),
                ("ce_time", b"2026-03-02T09:15:00Z"),
                ("content-type", b"application/json"),
            ]
            key = f"D-{i % 500:08d}".encode()
            sent.append(await producer.send(outbound(partner), native_statut(rng, i), key=key, headers=headers))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def gateway_rate(settings: Settings, partner: str, url: str, count: int) -> float:
    """Deliveries per second of the gateway's ``PartnerDelivery`` over ``count`` records."""
    sender = Clocked(HttpSender(), count)
    delivery = PartnerDelivery(settings, Destination(partner, url, new_secret(), 3600.0), sender, GatewayMetrics())
    await delivery.start()
    try:
        await asyncio.wait_for(sender.finished.wait(), _LIMIT_S)
        await asyncio.sleep(_SETTLE_S)  # the last offset's commit lands before the consumer closes, off the clock
    finally:
        await delivery.stop()
        await sender.close()
    return count / (sender.last - sender.first)


async def raw_rate(settings: Settings, partner: str, url: str, count: int) -> float:
    """Deliveries per second of the plainest loop: read, POST, commit after the 2xx, one record at a time."""
    consumer = AIOKafkaConsumer(
        outbound(partner),
        **KafkaAccess.of(settings).aiokafka(),
        group_id=f"bench.webhooks.raw.{partner}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,  # the embedded broker's wait, as the gateway's consumer has
    )
    await consumer.start()
    done, first, last = 0, 0.0, 0.0
    deadline = time.monotonic() + _LIMIT_S
    try:
        async with httpx.AsyncClient(timeout=15.0) as client:
            while done < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        content_type = dict(record.headers).get("content-type", b"application/json").decode()
                        first = first or time.perf_counter()
                        answer = await client.post(url, content=record.value, headers={"content-type": content_type})
                        answer.raise_for_status()
                        last = time.perf_counter()
                        await consumer.commit({tp: record.offset + 1})
                        done += 1
    finally:
        await consumer.stop()
    if done < count:
        raise TimeoutError(f"boucle brute : {done} livraisons sur {count} en {_LIMIT_S:.0f} s")
    return count / (last - first)


async def received(url: str) -> int:
    async with httpx.AsyncClient() as client:
        return int((await client.get(f"{url}/count")).text)


async def compare(broker: BenchBroker, receiver: str, count: int, rounds: int) -> dict[str, float]:
    """Each contender's best rate over ``rounds``; every run must deliver each record once to the receiver."""
    settings = broker.settings(Settings())
    hook = f"{receiver}/webhook"
    best: dict[str, float] = {}
    for n in range(rounds):
        partner = f"region-{11 + n:02d}"
        await fill(broker, partner, count, seed=n)
        runs = [(GATEWAY, gateway_rate), (RAW, raw_rate)]
        for name, contender in runs if n % 2 == 0 else reversed(runs):
            before = await received(receiver)
            rate = await contender(settings, partner, hook, count)
            got = await received(receiver) - before
            if got != count:
                raise RuntimeError(f"{name} : {got} requêtes reçues pour {count} enregistrements")
            best[name] = max(best.get(name, 0.0), rate)
    return best
