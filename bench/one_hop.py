"""One hop at a time, on the embedded broker, with real translation work, against three passthroughs.

Two chains are played: a Mission Locale Positionnement (in.imilo → canon →
deliver.region-24 → out.region-24) and the Region's StatutCandidature that
answers it (in.region-24 → canon → deliver.imilo → out.imilo). Each hop's
input topic is the previous hop's output, so every hop reads exactly what it
reads in production. On the same input topic, in the same run, the
baselines copy the same bytes: (a) raw aiokafka with batches, (b) the naive
FastStream handler that awaits each publish, (c) confluent-kafka.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.brokers import bench_broker
from bench.harness import Figure, Message, Report, confluent_passthrough, naive_faststream, preload, raw_passthrough
from bench.records import native_positionnement, native_statut
from passerelle.broker import topics
from passerelle.broker.admin import ensure_topics
from passerelle.broker.topics import TopicSpec
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.logging import configure
from passerelle.runtime.audit import write_key_pair
from passerelle.runtime.hop import call_hook
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.passes import InPasses, Processor, ReadThenWrite, Step
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from passerelle.stack.deployables import build_service


@dataclass(frozen=True)
class HopCase:
    label: str
    service: str
    source: str


CHAINS: dict[str, tuple[Callable[[random.Random, int], bytes], str, list[HopCase]]] = {
    "positionnement": (
        native_positionnement,
        "in.imilo",
        [
            HopCase("milo_adapter in.imilo → canon", "milo-adapter", "in.imilo"),
            HopCase("router canon → deliver.region-24", "router", "canon.formation.Positionnement"),
            HopCase("region_adapter deliver → out.region-24", "region-adapter", "deliver.region-24"),
        ],
    ),
    "statut": (
        native_statut,
        "in.region-24",
        [
            HopCase("region_adapter in.region-24 → canon", "region-adapter", "in.region-24"),
            HopCase("router canon → deliver.imilo", "router", "canon.formation.StatutCandidature"),
            HopCase("milo_adapter deliver → out.imilo", "milo-adapter", "deliver.imilo"),
        ],
    ),
}


@dataclass
class Timed(ReadThenWrite):
    """Wraps a hop's processor: time of the first record processed, and of the ack of the last batch."""

    inner: Processor
    expected: int
    # The hop calls commit() from its own thread: the event is set through the loop that awaits it.
    loop: asyncio.AbstractEventLoop
    processed: int = 0
    first: float = 0.0
    last: float = 0.0
    # Seconds inside the translation: what the hop spends on the work a raw copy skips.
    translating: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        # Every pass, so the hop runs the processor as it would unwrapped: in passes when it has them.
        steps = self.inner.between if isinstance(self.inner, InPasses) else ()
        self.between = tuple(self._timed(step) for step in steps)

    def _timed(self, step: Step) -> Step:
        def timed(message: Incoming, read: Any, tally: Tally) -> Any:
            started = time.perf_counter()
            try:
                return step(message, read, tally)
            finally:
                self.translating += time.perf_counter() - started

        return timed

    def read(self, message: Incoming, tally: Tally) -> Any:
        started = time.perf_counter()
        self.first = self.first or started
        self.processed += 1
        try:
            return self.inner.read(message, tally) if isinstance(self.inner, InPasses) else None
        finally:
            self.translating += time.perf_counter() - started

    def write(self, message: Incoming, read: Any, tally: Tally) -> list[Output]:
        started = time.perf_counter()
        try:
            if isinstance(self.inner, InPasses):
                return self.inner.write(message, read, tally)
            return self.inner.process(message, tally)
        finally:
            self.translating += time.perf_counter() - started

    def commit(self) -> None:  # called by the hop once the batch's outputs are acknowledged
        call_hook(self.inner, "commit")
        if self.processed >= self.expected and not self.last:
            self.last = time.perf_counter()
            self.loop.call_soon_threadsafe(self.done.set)

    def rollback(self) -> None:
        call_hook(self.inner, "rollback")


@dataclass(frozen=True)
class HopRun:
    rate: float  # messages a second, first record processed to last batch acknowledged
    translation_us: float  # of it, the translation's time per message

    @property
    def per_message_us(self) -> float:
        return 1e6 / self.rate


async def passerelle_hop(settings: Settings, case: HopCase, expected: int) -> HopRun:
    """The real service, started whole; only the hop reading ``case.source`` is timed."""
    runtime = build_service(case.service, settings)
    hop = next(h for h in runtime.hops if case.source in h.spec.inputs)
    timed = Timed(hop.processor, expected, asyncio.get_running_loop())
    hop.processor = timed
    await runtime.start()
    try:
        await asyncio.wait_for(timed.done.wait(), timeout=300)
    finally:
        await runtime.stop()
    return HopRun(expected / (timed.last - timed.first), 1e6 * timed.translating / timed.processed)


async def _run(quick: bool, broker_kind: str, transactions: bool, report: Report) -> None:
    count = 5_000 if quick else 50_000
    # The naive handler awaits each acks=all publish: about 80 msg/s on three replicas, so fewer messages there.
    naive_count = 1_500 if quick or broker_kind == "kafka" else 10_000
    chains = ["positionnement"] if quick else list(CHAINS)
    with bench_broker(broker_kind, quick) as broker, tempfile.TemporaryDirectory(prefix="bench-audit-") as keys:
        # The router signs its audit records and will not start without a key: one for this run only.
        signing = write_key_pair(Path(keys)).signing
        base = Settings(
            pseudonym_secret="bench", create_topics=False, log_level="WARNING", audit_signing_key_file=signing
        )
        # The target's guarantee (offsets committed after the acks), or, asked for, production's transactions.
        settings = broker.settings(base).model_copy(update={"transactions": "auto" if transactions else "off"})
        catalogue = Catalogue.load(settings.schemas_dir)
        profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
        specs = topics.all_topics(profiles.ids, catalogue.subjects)
        scratch = [TopicSpec(f"bench.{kind}.{n}", 6, -1) for kind in ("raw", "naive", "rdk") for n in range(3)]
        replicas = broker.replication
        await ensure_topics(broker.access, specs + scratch, replication_factor=replicas, with_configs=False)
        rng = random.Random(11)
        for chain in chains:
            make, entry, cases = CHAINS[chain]
            messages: list[Message] = [(None, make(rng, i), [("ce_id", f"{chain}-{i}".encode())]) for i in range(count)]
            await preload(broker.access, entry, messages, replication=broker.replication)
            # Quick mode: the first hop only, against all three baselines (each consumer-group join costs seconds).
            for n, case in enumerate(cases[:1] if quick else cases):
                hop = await passerelle_hop(settings, case, count)
                ours = hop.rate
                raw = await raw_passthrough(broker.access, case.source, f"bench.raw.{n}", count, f"raw.{chain}.{n}")
                ratio = ours / raw
                report.add(Figure(f"{case.label} : aiokafka brut (a)", raw, "msg/s"))
                report.add(
                    Figure(
                        f"{case.label} : Passerelle", ours, "msg/s", "aiokafka brut (a)", ratio, "≥ 0.5×", ratio >= 0.5
                    )
                )
                # Where the hop's time goes: the translation, and all the rest, against the raw copy's whole cost.
                rest = hop.per_message_us - hop.translation_us
                report.add(Figure(f"{case.label} : Passerelle, par message", hop.per_message_us, "µs"))
                report.add(Figure(f"{case.label} : dont traduction", hop.translation_us, "µs"))
                report.add(Figure(f"{case.label} : dont le reste (client, lots, accusés)", rest, "µs"))
                report.add(Figure(f"{case.label} : aiokafka brut (a), par message", 1e6 / raw, "µs"))
                naive = await naive_faststream(
                    broker.access, case.source, f"bench.naive.{n}", naive_count, f"naive.{chain}.{n}"
                )
                confluent = await asyncio.to_thread(
                    confluent_passthrough,
                    broker.access,
                    case.source,
                    f"bench.rdk.{n}",
                    count,
                    f"rdk.{chain}.{n}",
                    transactions,
                )
                report.add(Figure(f"{case.label} : confluent-kafka (c)", confluent, "msg/s"))
                speedup = ours / naive
                report.add(Figure(f"{case.label} : FastStream naïf (b)", naive, "msg/s"))
                report.add(
                    Figure(
                        f"{case.label} : Passerelle / naïf",
                        speedup,
                        "×",
                        "FastStream naïf (b)",
                        speedup,
                        "≥ 10×",
                        speedup >= 10,
                    )
                )
    report.details.update({"messages": count, "naive_messages": naive_count, "chains": chains})


def run(quick: bool = False, broker: str = "tansu", transactions: bool = False) -> Report:
    """``transactions``: on Apache Kafka, the hops and baseline (c) commit each batch in a transaction."""
    configure("console", "WARNING")
    on_kafka = transactions and broker == "kafka"
    report = Report.on_broker("one_hop", "Un saut", quick, broker, transactions=on_kafka)
    asyncio.run(_run(quick, broker, on_kafka, report))
    return report
