"""End to end, services as separate processes as in production: latency at a steady rate, then saturation.

Mission Locale Positionnements (in.imilo → out.region-24) and the Region's
StatutCandidature (in.region-24 → out.imilo) are sent together at a steady
rate. Latency runs from the send of the native message to its receipt on
``out.<partner>`` by a consumer, as a partner would see it. Saturation raises
the rate step by step and keeps the highest one whose messages all arrive
within the step and whose p99 stays under a second; that rate is then played
again while ``py-spy`` (when installed) samples every service and, on Apache
Kafka, Java Flight Recorder every node (when the JDK's ``jcmd`` and ``jfr``
are there), to show where the CPU goes. On Apache Kafka the target's run
(acks=all, the idempotent producer, offsets committed after the acks) comes
first, then the same steady rate with the hops in transactions, reported
beside it. Each service's RSS is read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.brokers import BenchBroker, bench_broker
from bench.harness import Figure, Report, proc_status_mb
from bench.records import native_positionnement, native_statut
from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.embedded import EMBEDDED_FETCH_MAX_WAIT_MS, LOOPBACK
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.audit import SIGNING_FILE, write_key_pair
from passerelle.settings import Settings
from passerelle.stack.processes import ProcessStack

FLOWS = {"in.imilo": "out.region-24", "in.region-24": "out.imilo"}


@dataclass
class Step:
    rate: int
    seconds: float
    sent: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def received(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def all_latencies(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def service_env(broker: BenchBroker, folder: Path, transactions: bool) -> dict[str, str]:
    # Kafka answers a waiting fetch as soon as data arrives, so its own default wait serves it; Tansu does not.
    default = "" if broker.on_kafka else str(EMBEDDED_FETCH_MAX_WAIT_MS)
    wait = os.environ.get("PASSERELLE_FETCH_MAX_WAIT_MS", default)
    fetch_wait = {"PASSERELLE_FETCH_MAX_WAIT_MS": wait} if wait else {}
    return {
        **broker.access.environment(),
        **fetch_wait,
        # The embedded broker refuses aiokafka's idempotent producer; on Apache Kafka every producer is idempotent.
        "PASSERELLE_PRODUCER_IDEMPOTENCE": "true" if broker.on_kafka else "false",
        "PASSERELLE_TRANSACTIONS": "auto" if transactions else "off",
        "PASSERELLE_PSEUDONYM_SECRET": "bench",
        "PASSERELLE_LOG_LEVEL": "WARNING",
        "PASSERELLE_CREATE_TOPICS": "false",
        "PASSERELLE_INDICATORS_INTERVAL_S": "3600",
        # The router signs its audit records and will not start without a key: one for this run only.
        "PASSERELLE_AUDIT_SIGNING_KEY_FILE": str(_signing_key(folder / "audit")),
    }


def _signing_key(folder: Path) -> Path:
    """The run's audit key, written by its first session and used by the next (a key is never overwritten)."""
    existing = folder / SIGNING_FILE
    return existing if existing.exists() else write_key_pair(folder).signing


def rss_mb(pid: int) -> float:
    return proc_status_mb(pid, "VmRSS")


class Receiver:
    """Reads every out.<partner> topic from the end, matching each arrival with its send time."""

    def __init__(self, access: KafkaAccess, on_kafka: bool) -> None:
        # A partner reads committed records only, with the services' fetch wait on Kafka; on Tansu a short wait
        # stands in for Kafka's answer on arrival.
        self.consumer = AIOKafkaConsumer(
            *FLOWS.values(),
            **access.aiokafka(),
            fetch_max_wait_ms=int(os.environ.get("PASSERELLE_FETCH_MAX_WAIT_MS", "500")) if on_kafka else 5,
            auto_offset_reset="latest",
            isolation_level="read_committed" if on_kafka else "read_uncommitted",
        )
        self.sent: dict[str, tuple[float, str]] = {}
        self.step: Step | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():
            await asyncio.sleep(0.05)
        for tp in self.consumer.assignment():
            await self.consumer.seek_to_end(tp)
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batches.values():
                for record in records:
                    marker = dict(record.headers).get("correlation_id", b"").decode()
                    origin = self.sent.pop(marker, None)
                    if origin and self.step is not None:
                        self.step.latencies.setdefault(origin[1], []).append(now - origin[0])

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


async def play(producer: AIOKafkaProducer, receiver: Receiver, step: Step, rng: random.Random, base: int) -> None:
    """Send ``step.rate`` messages a second, half each flow, in 10 ms ticks; then let the tail arrive.

    Messages are built before the clock starts, so the load generator's own work does not compete with the
    services for the machine's cores while they are measured.
    """
    total = int(step.rate * step.seconds)
    prepared = []
    for n in range(total):
        i = base + n
        entry = "in.imilo" if n % 2 == 0 else "in.region-24"
        value = native_positionnement(rng, i) if entry == "in.imilo" else native_statut(rng, i - 1)
        prepared.append((entry, value, f"e2e-{i}"))
    receiver.step = step
    tick = 0.01
    started = time.perf_counter()
    n = 0
    while n < total:
        due = min(total, int((time.perf_counter() - started) * step.rate) + 1)
        while n < due:
            entry, value, marker = prepared[n]
            receiver.sent[marker] = (time.time(), FLOWS[entry])
            await producer.send(entry, value, headers=[("ce_id", marker.encode())])
            n += 1
        await asyncio.sleep(tick)
    step.sent = n
    # What has not arrived 15 s after the last send counts as not received: the step is not held.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            while receiver.step is step and step.received() < n:
                await asyncio.sleep(0.1)
    receiver.step = None


# Frames where a process waits rather than works: librdkafka's calls block in C under the Python frame.
_IDLE = (
    "EpollSelector.select",
    "Condition.wait",
    "Event.wait",
    "_worker (concurrent/futures/thread.py",
    "Hop._produce_and_wait",
    "_arrived (",
    "_silent_leaders (",
)


def profile(pids: dict[str, int], seconds: int, folder: Path) -> dict[str, list[tuple[str, float]]]:
    """Hottest functions of each service by py-spy samples (self time, share of busy samples), if installed."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {}
    runs = {
        name: subprocess.Popen(
            [spy, "record", "--pid", str(pid), "-d", str(seconds), "-f", "raw", "-o", str(folder / name)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    }
    hottest: dict[str, list[tuple[str, float]]] = {}
    for name, run in runs.items():
        run.wait()
        counts: Counter[str] = Counter()
        path = folder / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            leaf = stack.split(";")[-1] if stack else "?"
            if not any(idle in leaf for idle in _IDLE):
                counts[leaf] += int(n)
        total = sum(counts.values()) or 1
        hottest[name] = [(frame, 100 * c / total) for frame, c in counts.most_common(8)]
    return hottest


# What a Kafka node's CPU sample is doing: the first kind of work, in this order, that any of its frames names.
_BROKER_WORK = (
    (("sun.security.", "javax.crypto.", "com.sun.crypto."), "TLS"),
    (("kafka.server.ReplicaFetcherThread", "kafka.server.AbstractFetcherThread"), "réplication, côté suiveur"),
    (("org.apache.kafka.raft.", "org.apache.kafka.controller.", "org.apache.kafka.metadata."), "KRaft (métadonnées)"),
    (("kafka.server.KafkaApis.handleFetchRequest",), "réponses aux fetch (consommateurs et suiveurs)"),
    (("kafka.server.KafkaApis.handleProduceRequest",), "écritures (produce)"),
    (
        (
            "kafka.server.KafkaApis.handleOffsetCommitRequest",
            "kafka.server.KafkaApis.handleTxnOffsetCommitRequest",
            "kafka.server.KafkaApis.handleEndTxnRequest",
            "kafka.server.KafkaApis.handleAddPartitionsToTxnRequest",
            "kafka.server.KafkaApis.handleWriteTxnMarkersRequest",
            "org.apache.kafka.coordinator.",
            "kafka.coordinator.",
        ),
        "offsets, groupes et transactions",
    ),
    (("kafka.server.KafkaApis.handle",), "autres requêtes (métadonnées, heartbeats)"),
    (("kafka.network.", "org.apache.kafka.common.network."), "réseau (sans TLS)"),
)


def broker_profile(pids: dict[str, int], seconds: int, folder: Path) -> dict[str, list[tuple[str, float]]]:
    """Where each Kafka node's CPU goes, by Java Flight Recorder samples (jcmd and jfr from the JDK, if there)."""
    jcmd, jfr = shutil.which("jcmd"), shutil.which("jfr")
    if not (jcmd and jfr):
        return {}
    files = {name: folder / f"{name}.jfr" for name in pids}
    for name, pid in pids.items():
        start = [jcmd, str(pid), "JFR.start", f"duration={seconds}s", f"filename={files[name]}", "settings=profile"]
        subprocess.run(start, capture_output=True, check=False)
    time.sleep(seconds + 3)
    shares: dict[str, list[tuple[str, float]]] = {}
    for name, path in files.items():
        if not path.exists():
            continue
        printed = subprocess.run(
            [jfr, "print", "--json", "--stack-depth", "128", "--events", "jdk.ExecutionSample", str(path)],
            capture_output=True,
            check=False,
        )
        counts: Counter[str] = Counter()
        for event in json.loads(printed.stdout or b"{}").get("recording", {}).get("events", []):
            frames = (event["values"].get("stackTrace") or {}).get("frames") or []
            named = [f"{f['method']['type']['name']}.{f['method']['name']}".replace("/", ".") for f in frames]
            counts[_work_of(named)] += 1
        total = sum(counts.values()) or 1
        shares[name] = [(work, 100 * c / total) for work, c in counts.most_common()]
    return shares


def _work_of(frames: list[str]) -> str:
    for prefixes, work in _BROKER_WORK:
        if any(frame.startswith(prefixes) for frame in frames):
            return work
    return "autre"


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (every core, neither idle nor waiting on I/O)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def stat_cpu_seconds(stat: Path) -> float:
    """User and system CPU seconds from a process's or a thread's ``/proc/…/stat``."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def metric_sums(services: ProcessStack, *names: str) -> dict[str, dict[str, float]]:
    """Per service, the sum of each named series over its labels, from its own /metrics."""
    sums: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient() as client:
        for s in services.services.values():
            text = (await client.get(f"http://{LOOPBACK}:{s.port}/metrics")).text
            found = dict.fromkeys(names, 0.0)
            for line in text.splitlines():
                for name in names:
                    if line.startswith((name + "{", name + " ")):
                        found[name] += float(line.rsplit(" ", 1)[1])
            sums[s.name] = found
    return sums


async def _commit_share(services: ProcessStack) -> dict[str, float]:
    """Share of each service's batch time spent committing its transactions, in %."""
    batch, commit = "passerelle_batch_processing_seconds_sum", "passerelle_transaction_commit_seconds_sum"
    sums = await metric_sums(services, batch, commit)
    return {name: 100 * got[commit] / got[batch] for name, got in sums.items() if got[batch]}


async def _batch_seconds(services: ProcessStack) -> dict[str, float]:
    """Mean time each service spends on one batch, from its own /metrics (time inside Passerelle)."""
    total, count = "passerelle_batch_processing_seconds_sum", "passerelle_batch_processing_seconds_count"
    sums = await metric_sums(services, total, count)
    return {name: got[total] / got[count] if got[count] else float("nan") for name, got in sums.items()}


class Session:
    """A fresh broker and every service as its own process, for one series of steps."""

    def __init__(self, folder: Path, kind: str, quick: bool, transactions: bool = False) -> None:
        self.folder = folder
        self.transactions = transactions
        self.quick = quick
        self._broker = bench_broker(kind, quick)
        self.services = ProcessStack({}, folder)

    async def __aenter__(self) -> Session:
        self.broker = self._broker.__enter__()
        access = self.broker.access
        settings = Settings(**access.settings_fields(), pseudonym_secret="bench")
        catalogue = Catalogue.load(settings.schemas_dir)
        profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
        specs = topics.all_topics(profiles.ids, catalogue.subjects)
        await ensure_topics(access, specs, replication_factor=self.broker.replication, with_configs=False)
        self.services = ProcessStack(service_env(self.broker, self.folder, self.transactions), self.folder)
        self.services.start()
        self.producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=False, linger_ms=1)
        self.receiver = Receiver(access, on_kafka=self.broker.on_kafka)
        await self.services.wait_ready()
        await self.producer.start()
        await self.receiver.start()
        self.rng = random.Random(5)
        # Warm-up, not counted: the Kafka nodes' JIT compiles their hot paths in the first tens of seconds.
        await self.step(Step(250, 30.0) if self.broker.on_kafka and not self.quick else Step(200, 3.0), 0)
        return self

    async def step(self, step: Step, base: int) -> dict[str, float]:
        """Play one step; the CPU share (% of one core) of the broker and of each service meanwhile."""
        return await self._cpu_during(play(self.producer, self.receiver, step, self.rng, base))

    async def idle(self, seconds: float) -> dict[str, float]:
        """The CPU share (% of one core) of the broker and of each service while nothing is sent."""
        return await self._cpu_during(asyncio.sleep(seconds))

    async def _cpu_during(self, work: Awaitable[None]) -> dict[str, float]:
        pids = {**self.broker.pids, **self.services.pids(), "banc": os.getpid()}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        busy_before = machine_busy_seconds()
        started = time.monotonic()
        await work
        elapsed = time.monotonic() - started
        cpu: dict[str, float] = {
            name: round(100 * (cpu_seconds(pid) - before[name]) / elapsed) for name, pid in pids.items()
        }
        cpu["broker"] = sum(cpu[name] for name in self.broker.pids)
        # Every process and the kernel's own work (loopback networking): how much of the cores was left.
        cpu["machine"] = round(100 * (machine_busy_seconds() - busy_before) / elapsed)
        return cpu

    async def __aexit__(self, *_exc: object) -> None:
        await self.receiver.stop()
        await self.producer.stop()
        self.services.stop()
        self._broker.__exit__(None, None, None)


async def _run(quick: bool, kind: str, report: Report) -> None:
    steady_rate, steady_s = 1000, (10.0 if quick else 60.0)
    ramp = [500, 1000] if quick else [250, 500, 750, 1000, 1500, 2000]
    if kind == "kafka" and not quick:
        ramp = [20, 100, *ramp]  # three nodes on the same two cores: the sustained rate may lie below 250
    step_s = 4.0 if quick else 10.0
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        folder = Path(tmp)
        # The target's run: on Apache Kafka, acks=all and the idempotent producer, offsets committed after the acks.
        async with Session(folder, kind, quick) as session:
            # What the broker costs with every service connected and nothing sent: its floor, not the traffic's.
            idle = await session.idle(3.0 if quick else 10.0)
            report.add(Figure("sans trafic : CPU du broker", idle["broker"], "% d'un cœur"))
            report.details["idle_cpu_percent"] = idle
            await _steady(session, Step(steady_rate, steady_s), report, windows=True)
            if quick:  # the same broker: a quick run checks the steps, a full one measures them on a fresh one
                await _saturation(session, ramp, step_s, report, folder, profiled=False)
        if kind == "kafka":
            # The production guarantee, reported beside it: outputs and offsets in one transaction per batch.
            async with Session(folder, kind, quick, transactions=True) as session:
                await _steady(session, Step(steady_rate, steady_s), report, prefix="transactions : ")
        if not quick:
            # Saturation on a fresh broker: the embedded one slows down as it holds more data (docs/performance.md).
            async with Session(folder, kind, quick) as session:
                await _saturation(session, ramp, step_s, report, folder, profiled=True)


async def _saturation(
    session: Session, ramp: list[int], step_s: float, report: Report, folder: Path, profiled: bool
) -> None:
    """Raise the rate step by step; the highest sustained one is then played again under the profilers."""
    held = 0
    for k, rate in enumerate(ramp):
        step = Step(rate, step_s)
        cpu = await session.step(step, 2_000_000 + k * 1_000_000)
        p99 = percentile(step.all_latencies(), 0.99)
        ok = step.received() == step.sent and p99 < 1.0
        report.details.setdefault("saturation", []).append(
            {"rate": rate, "sent": step.sent, "received": step.received(), "p99_ms": 1000 * p99,
             "cpu_percent": cpu, "held": ok}
        )  # fmt: skip
        if not ok:
            break
        held = rate
    report.add(Figure("débit soutenu maximal (p99 < 1 s, rien en retard)", held, "msg/s", note=f"{ramp}"))
    if not profiled:
        return
    # Where the CPU goes at that rate (the lowest step when none held).
    rate = held or ramp[0]
    spying = asyncio.ensure_future(asyncio.to_thread(profile, session.services.pids(), int(step_s), folder))
    recording = None
    if session.broker.on_kafka:
        recording = asyncio.ensure_future(asyncio.to_thread(broker_profile, session.broker.pids, int(step_s), folder))
    await session.step(Step(rate, step_s), 9_000_000)
    report.details["profiled_rate"] = rate
    report.details["profiler"] = (
        f"py-spy at {rate} msg/s, the highest sustained rate (the lowest step when none held): "
        "each service's hottest functions (share of its busy samples)"
    )
    report.details["profile"] = await spying
    if recording:
        report.details["broker_profile"] = await recording


async def _steady(session: Session, steady: Step, report: Report, prefix: str = "", windows: bool = False) -> None:
    """The steady rate, played in 10 s windows back to back to show how latency and broker CPU evolve."""
    parts = [Step(steady.rate, 10.0) for _ in range(int(steady.seconds // 10))]
    for w, window in enumerate(parts):
        cpu = await session.step(window, 1_000_000 + w * 100_000)
        steady.sent += window.sent
        for flow, values in window.latencies.items():
            steady.latencies.setdefault(flow, []).extend(values)
        if windows:
            p50 = 1000 * percentile(window.all_latencies(), 0.5)
            report.add(Figure(f"fenêtre {w + 1} ({10 * w}-{10 * w + 10} s) : latence p50", p50, "ms"))
            report.add(Figure(f"fenêtre {w + 1} : CPU du broker", cpu["broker"], "% d'un cœur"))
            report.details.setdefault("steady_windows", []).append({"p50_ms": p50, "cpu_percent": cpu})
    _steady_figures(report, steady, prefix, gate=not session.transactions)
    for name, seconds in (await _batch_seconds(session.services)).items():
        report.add(Figure(f"{prefix}{name} : temps moyen par lot (dans Passerelle)", 1000 * seconds, "ms"))
    if session.transactions:
        for name, share in (await _commit_share(session.services)).items():
            report.add(Figure(f"{prefix}{name} : part du lot passée à valider la transaction", share, "%"))
    else:
        for name, pid in session.services.pids().items():
            report.add(Figure(f"RSS {name} (régime établi)", rss_mb(pid), "Mo"))


def _steady_figures(report: Report, step: Step, prefix: str = "", gate: bool = True) -> None:
    everything = step.all_latencies()
    report.add(Figure(f"{prefix}envoyés à {step.rate} msg/s pendant {step.seconds:.0f} s", step.sent, "messages"))
    report.add(Figure(f"{prefix}reçus sur out.<partenaire>", step.received(), "messages"))
    for label, q in (("p50", 0.5), ("p95", 0.95)):
        report.add(Figure(f"{prefix}latence {label}", 1000 * percentile(everything, q), "ms"))
    p99 = 1000 * percentile(everything, 0.99)
    if gate:
        report.add(Figure(f"{prefix}latence p99", p99, "ms", target="< 50 ms", met=p99 < 50))
    else:
        report.add(Figure(f"{prefix}latence p99", p99, "ms"))
    for flow, values in sorted(step.latencies.items()):
        report.add(Figure(f"{prefix}latence p99 vers {flow}", 1000 * percentile(values, 0.99), "ms"))
    report.details[f"{prefix}steady_mean_ms"] = 1000 * statistics.fmean(everything) if everything else None


def run(quick: bool = False, broker: str = "tansu") -> Report:
    report = Report.on_broker("end_to_end", "De bout en bout, services en processus séparés", quick, broker)
    asyncio.run(_run(quick, broker, report))
    return report
