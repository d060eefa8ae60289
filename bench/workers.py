"""Several worker processes of one service in one consumer group: what they give here, and on more cores.

For the I-MILO inbound hop (``milo-adapter``, in.imilo → canon) and, in a full run, the router (canon →
deliver.<partner>), each case gets a fresh broker with N inputs preloaded over the input topic's partitions;
then W processes of the service start at once (W = 1, 2, 3), each with its own instance id and metrics port,
and the sum of their processed counters on /metrics is polled until it reaches N. Two rates are reported: from
the launch (start-up and group joins included) and from the moment the last worker answers /health 200.

The CPU seconds of the workers and of the broker per message, measured with one worker, feed a model for a
machine of K cores running K − 1 workers beside the broker: msg/s ≤ min((K − 1) / c_s, 1 / c_b).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from bench.brokers import BenchBroker, bench_broker
from bench.end_to_end import cpu_seconds, metric_sums, service_env
from bench.harness import Figure, Message, Report, preload
from bench.records import native_positionnement
from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.embedded import EMBEDDED_SESSION_TIMEOUT_MS
from passerelle.broker.reader import log_ends
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.settings import Settings
from passerelle.stack.deployables import hop_spec_of
from passerelle.stack.processes import ProcessStack

WORKERS = (1, 2, 3)
ENTRY = "in.imilo"
# Observed once a batch's outputs are acknowledged and its offsets committed: inputs done, not merely read.
PROCESSED = "passerelle_batch_size_messages_sum"
POLL_S = 0.2
LIMIT_S = 300.0
MODEL_CORES = (2, 4, 8)
# The router needs canonical input: the milo-adapter makes it from the preloaded natives, untimed.
FEEDS = {"milo-adapter": None, "router": "milo-adapter"}


@dataclass
class Run:
    """One case: W workers of a service over ``expected`` inputs; times in seconds from the launch."""

    service: str
    workers: int
    expected: int
    processed: float = 0.0
    ready_s: float | None = None
    done_s: float | None = None
    elapsed_s: float = 0.0
    at_ready: float = 0.0
    # CPU seconds of the workers (summed) and of the broker, over the whole run and from readiness to the end.
    service_cpu: float = 0.0
    broker_cpu: float = 0.0
    service_cpu_ready: float = 0.0
    broker_cpu_ready: float = 0.0
    # Each poll: seconds from the launch, and each worker's processed counter (who works when, around rebalances).
    timeline: list[tuple[float, list[float]]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.expected / self.done_s if self.done_s else self.processed / self.elapsed_s

    @property
    def after_ready(self) -> float:
        """Inputs done after the last worker became ready: the window the steady figures come from."""
        return self.processed - self.at_ready

    @property
    def rate_ready(self) -> float | None:
        if self.ready_s is None or self.done_s is None or self.done_s <= self.ready_s or self.after_ready <= 0:
            return None
        return self.after_ready / (self.done_s - self.ready_s)

    def per_message(self) -> tuple[float, float]:
        """Service and broker CPU seconds per input, from readiness when that window exists, else the whole run."""
        if self.rate_ready is not None:
            return self.service_cpu_ready / self.after_ready, self.broker_cpu_ready / self.after_ready
        done = self.processed or 1.0
        return self.service_cpu / done, self.broker_cpu / done


def worker_env(broker: BenchBroker, folder: Path, instance: str) -> dict[str, str]:
    # On Tansu without transactions: a transactional hop fails once Tansu's coordinator forgets its producer.
    on_kafka = broker.on_kafka
    env = {**service_env(broker, folder, transactions=on_kafka), "PASSERELLE_INSTANCE_ID": instance}
    if not on_kafka:
        # As the local stack runs on it (embedded_settings): each rebalance would otherwise wait 23 s for a join.
        env["PASSERELLE_CONSUMER_SESSION_TIMEOUT_MS"] = str(EMBEDDED_SESSION_TIMEOUT_MS)
    return env


async def count_records(access: KafkaAccess, names: Sequence[str]) -> int:
    """Records held by these topics, read through: on Apache Kafka, transaction markers take offsets too."""
    consumer = AIOKafkaConsumer(**access.aiokafka(), isolation_level="read_committed", enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # the metadata of every topic, for partitions_for_topic
        partitions = [TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        async with asyncio.timeout(60):
            # Ends asked again each round: the embedded broker's first answer can fall short of its last batch.
            while [
                tp for tp, end in (await log_ends(consumer, partitions)).items() if await consumer.position(tp) < end
            ]:
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                count += sum(len(records) for records in batches.values())
        return count
    finally:
        await consumer.stop()


async def processed_by(stack: ProcessStack, service: str) -> float | None:
    """The worker's processed counter; None while its /metrics does not answer (starting)."""
    try:
        return (await metric_sums(stack, PROCESSED))[service][PROCESSED]
    except httpx.HTTPError:
        return None


async def drive(broker: BenchBroker, folder: Path, service: str, workers: int, expected: int, tag: str) -> Run:
    """Launch ``workers`` processes of ``service`` at once and poll them until they have processed ``expected``."""
    stacks: list[ProcessStack] = []
    for n in range(workers):
        own = folder / f"{tag}-{n}"
        own.mkdir()
        stacks.append(ProcessStack(worker_env(broker, folder, f"{tag}-{n}"), own, [service]))
    run = Run(service, workers, expected)
    counts = [0.0] * workers
    launched = time.monotonic()
    for stack in stacks:
        stack.start()
    pids = [pid for stack in stacks for pid in stack.pids().values()]
    service_start = sum(cpu_seconds(pid) for pid in pids)
    broker_start = sum(cpu_seconds(pid) for pid in broker.pids.values())
    service_ready = broker_ready = 0.0
    try:
        async with httpx.AsyncClient() as client:
            while True:
                for n, stack in enumerate(stacks):
                    got = await processed_by(stack, service)
                    counts[n] = counts[n] if got is None else got
                    if not stack.services[service].running():
                        raise RuntimeError(f"{service} {tag}-{n} s'est arrêté : {stack.log_tail(service)}")
                run.processed = sum(counts)
                now = run.elapsed_s = time.monotonic() - launched
                run.timeline.append((round(now, 2), list(counts)))
                if run.ready_s is None:
                    codes = [(await stack.health(client, service))[0] for stack in stacks]
                    if all(code == 200 for code in codes):
                        run.ready_s, run.at_ready = now, run.processed
                        service_ready = sum(cpu_seconds(pid) for pid in pids)
                        broker_ready = sum(cpu_seconds(pid) for pid in broker.pids.values())
                if run.processed >= expected:
                    run.done_s = now
                    break
                if now > LIMIT_S:
                    break
                await asyncio.sleep(POLL_S)
        service_end = sum(cpu_seconds(pid) for pid in pids)
        broker_end = sum(cpu_seconds(pid) for pid in broker.pids.values())
    finally:
        # Stopped together: each waits for its process to leave the group, which would add up one after another.
        await asyncio.gather(*(asyncio.to_thread(stack.stop) for stack in stacks))
    run.service_cpu, run.broker_cpu = service_end - service_start, broker_end - broker_start
    if run.ready_s is not None:
        run.service_cpu_ready, run.broker_cpu_ready = service_end - service_ready, broker_end - broker_ready
    return run


async def case(kind: str, quick: bool, service: str, workers: int, count: int) -> Run:
    """A fresh broker, ``count`` natives preloaded (turned canonical first for the router), then the W workers."""
    with bench_broker(kind, quick) as broker, tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        folder = Path(tmp)
        settings = Settings(**broker.access.settings_fields(), pseudonym_secret="bench")
        catalogue = Catalogue.load(settings.schemas_dir)
        profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
        specs = topics.all_topics(profiles.ids, catalogue.subjects)
        await ensure_topics(broker.access, specs, replication_factor=broker.replication, with_configs=False)
        rng = random.Random(17)
        messages: list[Message] = [
            (None, native_positionnement(rng, i), [("ce_id", f"workers-{i}".encode())]) for i in range(count)
        ]
        await preload(broker.access, ENTRY, messages, replication=broker.replication)
        feeder = FEEDS[service]
        if feeder is not None:
            fed = await drive(broker, folder, feeder, 1, count, "feed")
            if fed.done_s is None:
                raise TimeoutError(f"{feeder} : {fed.processed:.0f} entrées sur {count} en {LIMIT_S:.0f} s")
        expected = await count_records(broker.access, hop_spec_of(service, settings).inputs)
        return await drive(broker, folder, service, workers, expected, f"{service}-{workers}")


def add_figures(report: Report, runs: list[Run]) -> None:
    service = runs[0].service
    one = runs[0]
    for run in runs:
        who = f"{service}, {run.workers} processus"
        reached = "" if run.done_s else f"{run.processed:.0f} sur {run.expected} en {run.elapsed_s:.0f} s"
        report.add(Figure(f"{who} : débit depuis le lancement", run.rate, "msg/s", note=reached))
        if run.ready_s is not None:
            report.add(Figure(f"{who} : tous prêts (/health 200) après", run.ready_s, "s"))
        steady = run.rate_ready
        if steady is not None and run.ready_s is not None:
            report.add(Figure(f"{who} : débit une fois tous prêts", steady, "msg/s"))
            window = (run.done_s or run.elapsed_s) - run.ready_s
            # Where the two cores go once every worker runs: the workers together, and the broker.
            report.add(
                Figure(f"{who} : CPU des processus, tous prêts", 100 * run.service_cpu_ready / window, "% d'un cœur")
            )
            report.add(Figure(f"{who} : CPU du broker, tous prêts", 100 * run.broker_cpu_ready / window, "% d'un cœur"))
            base = one.rate_ready
            if run is not one and base:
                report.add(Figure(f"{who} / 1 processus", steady / base, "×", "1 processus", steady / base))
        c_s, c_b = run.per_message()
        report.add(Figure(f"{who} : CPU du service par message", 1e6 * c_s, "µs CPU/msg"))
        report.add(Figure(f"{who} : CPU du broker par message", 1e6 * c_b, "µs CPU/msg"))
    c_s, c_b = one.per_message()
    formula = f"min((K − 1) / c_s, 1 / c_b), c_s = {1e6 * c_s:.0f} µs, c_b = {1e6 * c_b:.0f} µs mesurés à 1 processus"
    for cores in MODEL_CORES:
        bound = min((cores - 1) / c_s, 1 / c_b) if c_s and c_b else float("nan")
        name = f"{service}, modèle : {cores} cœurs, {cores - 1} processus"
        report.add(Figure(name, bound, "msg/s (modèle)", note=formula))


async def _run(quick: bool, kind: str, report: Report) -> None:
    # The counters move by whole batches of up to 2,000: 20,000 inputs made windows of 2 to 3 s whose ratios moved
    # from 0.8× to 1.4× between two runs; 100,000 makes them 6 to 18 s.
    count = 3_000 if quick else 100_000
    services = ["milo-adapter"] if quick else list(FEEDS)
    for service in services:
        runs = [await case(kind, quick, service, workers, count) for workers in WORKERS]
        add_figures(report, runs)
        report.details.setdefault("runs", []).extend(
            {**asdict(run), "rate": run.rate, "rate_ready": run.rate_ready} for run in runs
        )
    report.details.update({"messages": count, "services": services, "model": "min((K - 1) / c_s, 1 / c_b)"})


def run(quick: bool = False, broker: str = "tansu") -> Report:
    report = Report.on_broker("workers", "Plusieurs processus d'un service, un groupe de consommateurs", quick, broker)
    asyncio.run(_run(quick, broker, report))
    return report
