"""Faults of real operations on the 3-node Apache Kafka cluster: 0 lost, 0 duplicated, /health telling the truth.

Each test sends its own stream across the four flows (``stream.mixed``) and counts the records carrying each
message's marker on every ``out.<partner>`` topic, read ``read_committed`` as a partner would.
``make test`` runs them on a stream sized for CI; ``make faults`` on 50,000 messages each
(docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from passerelle.broker.access import KafkaAccess
from passerelle.broker.apache import KafkaCluster
from passerelle.runtime.hop import BROKER_DOWN
from passerelle.stack.processes import ProcessStack
from tests.faults.conftest import FaultSettings
from tests.faults.stream import Arrivals, HealthLog, Item, mixed, send

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

OUT_TOPICS = ("out.imilo", "out.region-24", "out.region-53")
# The topics the stream crosses: the busiest partitions are theirs.
PATH_TOPICS = (
    "in.imilo", "in.region-24", "in.region-53", "canon.formation.Positionnement",
    "canon.formation.StatutCandidature", "deliver.imilo", "deliver.region-24", "deliver.region-53", *OUT_TOPICS,
)  # fmt: skip


def _chunks(items: list[Item], parts: int) -> list[list[Item]]:
    size = -(-len(items) // parts)
    return [items[k : k + size] for k in range(0, len(items), size)]


def _deadline(settings: FaultSettings) -> float:
    """Time for the whole stream to arrive once the faults are over: its sending time three times, or 2 min."""
    return max(120.0, 3 * settings.events / settings.rate)


async def _all_answer(
    services: ProcessStack, status: int, limit_s: float, saying: str = ""
) -> dict[str, tuple[int, str]]:
    """Every service's /health once all answer ``status`` with ``saying`` in the body, or at ``limit_s``."""
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient() as client:
        while True:
            answers = {name: await services.health(client, name) for name in services.services}
            settled = all(code == status and saying in body for code, body in answers.values())
            if settled or time.monotonic() > deadline:
                return answers
            await asyncio.sleep(0.5)


async def test_each_service_killed_mid_stream_then_restarted(
    services: ProcessStack, cluster_producer: AIOKafkaProducer, apache_cluster: KafkaCluster, pace: FaultSettings
) -> None:
    items = mixed(f"tue-{uuid.uuid4().hex[:6]}", pace.events)
    chunks = _chunks(items, len(services.services) + 1)
    started = time.monotonic()
    async with Arrivals(apache_cluster.access, OUT_TOPICS) as arrivals, HealthLog(services) as health:
        for chunk, name in zip(chunks, services.services, strict=False):
            sending = asyncio.create_task(send(cluster_producer, chunk, pace.rate))
            await asyncio.sleep(len(chunk) / pace.rate / 2)
            services.kill(name)  # mid-stream: its open transaction and uncommitted offsets die with it
            services.start_service(name)
            await sending
        await send(cluster_producer, chunks[-1], pace.rate)
        await services.wait_ready(limit_s=120)
        outcome = await arrivals.complete(items, timeout_s=_deadline(pace))
        # Truth on /health: a restarted service is not ready before it has its partitions, then is.
        restarted = {name for _, name, code, _ in health.answers if code == 0}
    pace.record("services_tues", secondes=round(time.monotonic() - started), **outcome.figures())
    assert not outcome.lost and not outcome.doubled, str(outcome)
    assert restarted == set(services.services)
    assert all(code == 200 for code, _ in (await _all_answer(services, 200, 30)).values())


async def _busiest_broker(access: KafkaAccess) -> tuple[int, int]:
    """The broker leading the most partitions of the stream's path, and how many it leads."""
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    try:
        described = await admin.describe_topics(list(PATH_TOPICS))
    finally:
        await admin.close()
    leaders = Counter(p["leader"] for topic in described for p in topic["partitions"])
    [(node_id, count)] = leaders.most_common(1)
    return int(node_id), count


async def test_the_broker_leading_the_busiest_partitions_killed_mid_stream(
    services: ProcessStack, cluster_producer: AIOKafkaProducer, apache_cluster: KafkaCluster, pace: FaultSettings
) -> None:
    items = mixed(f"leader-{uuid.uuid4().hex[:6]}", pace.events)
    before = services.pids()
    leader, led = await _busiest_broker(apache_cluster.access)
    index = [n.node_id for n in apache_cluster.nodes].index(leader)
    started = time.monotonic()
    async with Arrivals(apache_cluster.access, OUT_TOPICS) as arrivals:
        sending = asyncio.create_task(send(cluster_producer, items, pace.rate))
        await asyncio.sleep(pace.events / pace.rate / 3)
        await asyncio.to_thread(apache_cluster.kill, index)
        try:
            await sending
            outcome = await arrivals.complete(items, timeout_s=_deadline(pace))
            # Two brokers of three hold every partition (min.insync.replicas=2): the services go on by themselves.
            answers = await _all_answer(services, 200, 60)
        finally:
            await asyncio.to_thread(apache_cluster.start_node, index)
    pace.record("broker_tue", secondes=round(time.monotonic() - started), partitions_menees=led, **outcome.figures())
    assert not outcome.lost and not outcome.doubled, f"{outcome} (broker {leader}, leader of {led} partitions)"
    assert services.pids() == before, "a service ended while a broker was down"
    assert all(code == 200 for code, _ in answers.values()), answers


async def test_the_whole_cluster_stopped_and_started_again(
    services: ProcessStack, cluster_producer: AIOKafkaProducer, apache_cluster: KafkaCluster, pace: FaultSettings
) -> None:
    items = mixed(f"arret-{uuid.uuid4().hex[:6]}", pace.events)
    first, second = items[: len(items) // 2], items[len(items) // 2 :]
    before, bootstrap, access = services.pids(), apache_cluster.bootstrap, apache_cluster.access
    async with Arrivals(access, OUT_TOPICS) as arrivals, HealthLog(services) as health:
        await send(cluster_producer, first, pace.rate * 4)
        async with asyncio.timeout(_deadline(pace)):  # stopped while the first half is on its way
            while sum(arrivals.counts[i.marker] > 0 for i in first) < len(first) // 3:
                await asyncio.sleep(0.1)
        await asyncio.to_thread(apache_cluster.stop)
        # While the nodes go down one by one, a hop whose write probe fails on one still answering says that
        # writes are not validated; its next check, with none answering, says the broker is away.
        down = await _all_answer(services, 503, 60, saying=BROKER_DOWN)
        stuck = {name: services.stacks(name) for name, (code, _) in down.items() if code != 503}
        for name, threads in stuck.items():
            print(f"--- {name}, toujours prêt sans broker :\n{threads}")  # shown by pytest if the test fails
        all_down_at = health.now()
        await asyncio.sleep(5)
        restarting_at = health.now()
        await asyncio.to_thread(apache_cluster.start)
        assert apache_cluster.bootstrap == bootstrap, "the cluster came back on other ports"
        up = await _all_answer(services, 200, 120)
        back_after = health.now() - restarting_at
        for name, (code, body) in up.items():
            if code != 200:
                print(f"--- {name}, pas prêt après le redémarrage ({body}) :\n{services.stacks(name)}")
        await send(cluster_producer, second, pace.rate)
        outcome = await arrivals.complete(items, timeout_s=_deadline(pace))
        while_down = health.between(all_down_at, restarting_at)
        if outcome.lost:
            for name in services.services:
                print(f"--- {name}, des messages manquent :\n{services.stacks(name)}")
    pace.record("cluster_arrete", retour_pret_s=round(back_after, 1), reponses_pendant_arret=len(while_down),
                **outcome.figures())  # fmt: skip
    assert all(code == 503 and BROKER_DOWN in body for code, body in down.values()), (down, stuck)
    # Not ready while no broker answers: not one 200 from the moment every service said so until the restart.
    assert while_down and all(code == 503 for _, code, _ in while_down), while_down
    assert all(code == 200 for code, _ in up.values()), up
    assert services.pids() == before, "a service had to be restarted"
    assert not outcome.lost and not outcome.doubled, str(outcome)


async def test_health_says_not_ready_while_a_lost_quorum_blocks_progress(
    services: ProcessStack, cluster_producer: AIOKafkaProducer, apache_cluster: KafkaCluster, pace: FaultSettings
) -> None:
    """Two brokers of three killed: the third still answers, yet nothing can be committed (no controller majority,
    fewer in-sync replicas than ``min.insync.replicas``). A service that merely reaches a broker is not ready."""
    items = mixed(f"quorum-{uuid.uuid4().hex[:6]}", pace.events)
    first, second = items[: len(items) // 2], items[len(items) // 2 :]
    before, survivor = services.pids(), len(apache_cluster.nodes) - 1
    async with Arrivals(apache_cluster.access, OUT_TOPICS) as arrivals, HealthLog(services) as health:
        await send(cluster_producer, first, pace.rate * 4)
        async with asyncio.timeout(_deadline(pace)):  # the quorum goes while the first half is on its way
            while sum(arrivals.counts[i.marker] > 0 for i in first) < len(first) // 3:
                await asyncio.sleep(0.1)
        killed = [index for index in range(len(apache_cluster.nodes)) if index != survivor]
        try:
            for index in killed:
                await asyncio.to_thread(apache_cluster.kill, index)
            down = await _all_answer(services, 503, 180)
            for name, (code, _) in down.items():
                if code != 503:  # shown by pytest if the test fails
                    print(f"--- {name}, prêt sans quorum :\n{services.log_tail(name)}\n{services.stacks(name)}")
            all_down_at = health.now()
            await asyncio.sleep(10)
            restarting_at = health.now()
        finally:
            for index in killed:
                await asyncio.to_thread(apache_cluster.start_node, index)
        up = await _all_answer(services, 200, 120)
        back_after = health.now() - restarting_at
        await send(cluster_producer, second, pace.rate)
        outcome = await arrivals.complete(items, timeout_s=_deadline(pace))
        while_down = health.between(all_down_at, restarting_at)
    pace.record("quorum_perdu", retour_pret_s=round(back_after, 1), reponses_pendant_panne=len(while_down),
                **outcome.figures())  # fmt: skip
    assert all(code == 503 for code, _ in down.values()), down
    ready = [(n, code, body) for n, code, body in while_down if code != 503]
    for moment, name, code, body in health.answers:  # shown by pytest if the test fails
        print(f"{moment:6.1f} {name:16} {code} {body}")
    assert while_down and not ready, ready
    assert all(code == 200 for code, _ in up.values()), up
    assert services.pids() == before, "a service had to be restarted"
    assert not outcome.lost and not outcome.doubled, str(outcome)
