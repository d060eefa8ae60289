"""The demo: a whole Passerelle on the embedded broker, and partners that talk to it.

Missions Locales position young people on sessions; each Region answers what
it receives (statuses, entries, exits, aid decisions) in its own dialect and
signals dropouts, which the Missions Locales follow up. Offers come from the
real LHEO feeds when available. At the end: a summary per flow and the
agreement's indicators, computed by the indicators service.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from passerelle.broker import topics
from passerelle.broker.reader import collect
from passerelle.core.dialect import Draft, InboundContext
from passerelle.core.envelope import parse_time, subject_of
from passerelle.core.headers import ORIGINAL_PREFIX
from passerelle.core.reference import load_reference
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.simulation.lheo_feed import write_feed
from passerelle.simulation.scenario import Native, Scenario
from passerelle.stack.local import Stack, print_addresses
from services.indicators.opendata import export_from_broker
from services.region_adapter.dialects.lheo import parse_lheo

DEFAULT_LHEO = PROJECT_ROOT.parent / "shared" / "fixtures" / "lheo"
# Beside what `dev up --broker kafka` keeps, ignored by git: the demo's open-data export (docs/open-data.md).
DEFAULT_OPENDATA_DIR = PROJECT_ROOT / ".passerelle" / "demo" / "donnees-ouvertes"
REGIONS = ("24", "53", "84")


def _console() -> Console:
    """Wide enough for the summary tables when output goes to a file or CI log."""
    console = Console()
    return console if console.is_terminal else Console(width=170)


@dataclass
class FlowCounts:
    sent: Counter[str] = field(default_factory=Counter)
    bad_sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    last_activity: float = field(default_factory=time.monotonic)


@dataclass
class Demo:
    settings: Settings
    people: int = 2000
    seed: int = 7
    lheo_dir: Path = DEFAULT_LHEO
    console: Console = field(default_factory=_console)
    # Spinners and progress bars: on stderr, so stdout holds only the addresses and the summary.
    progress_console: Console = field(default_factory=lambda: Console(stderr=True))
    tally: FlowCounts = field(default_factory=FlowCounts)
    opendata_dir: Path = DEFAULT_OPENDATA_DIR

    async def run(self, keep_running: bool = False) -> int:
        settings = self.settings.model_copy(update={"indicators_interval_s": 3600.0})
        stack = Stack(settings)
        with self.progress_console.status("Démarrage du broker embarqué, du registre et des services…"):
            await stack.start()
        try:
            self.console.print(f"Broker {stack.bootstrap} · registre {stack.registry_url}")
            await self._play(stack)
            await self._summary(stack)
            await self._waits(stack)
            await self._open_data(stack)
            if keep_running:
                print_addresses(stack, self.console)
                self.console.print("Tout reste en marche : Ctrl-C pour arrêter.")
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
        finally:
            await stack.stop()
        return 0

    # ------------------------------------------------------------------ the play

    async def _play(self, stack: Stack) -> None:
        runtime = next(iter(stack.running.values())).runtime
        ctx = runtime.ctx
        dialects = {p.id: {e: f.dialect.value for e, f in p.publishes.items()} for p in ctx.profiles}
        encodings = {p.id: p.csv.encoding for p in ctx.profiles}
        scenario = Scenario(self.seed, load_reference(self.settings.reference_dir), ctx.shapes, dialects, encodings)
        producer = AIOKafkaProducer(
            **stack.access.aiokafka(), enable_idempotence=False, linger_ms=5, max_request_size=8 * 1024 * 1024
        )
        await producer.start()
        self._stop = asyncio.Event()
        partners = ("imilo", *(f"region-{r}" for r in REGIONS))
        ready = {p: asyncio.Event() for p in partners}
        desks = [asyncio.create_task(self._desk(stack, p, scenario, ready[p])) for p in partners]
        try:
            async with asyncio.timeout(60):
                await asyncio.gather(*(e.wait() for e in ready.values()))
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:>6.0f}"),
                TimeElapsedColumn(),
                console=self.progress_console,
            ) as progress:
                sending = progress.add_task("messages des partenaires", total=None)
                receiving = progress.add_task("messages livrés aux partenaires", total=None)

                async def publish(native: Native) -> None:
                    headers = [("ce_type", native.event.encode()), ("content-type", native.content_type.encode())]
                    await producer.send(topics.inbound(native.partner), native.payload, key=native.key, headers=headers)
                    self.tally.sent[native.event] += 1
                    if native.bad:
                        self.tally.bad_sent[native.event] += 1
                    progress.update(sending, completed=sum(self.tally.sent.values()))

                self._publish = publish
                for native in self._offers(scenario):
                    await publish(native)
                sessions = self._sessions()
                people = scenario.people(self.people, REGIONS)
                for i, person in enumerate(people):
                    bad = {7: "nir", 13: "rome", 29: "json"}.get(i % 300) if i else None
                    await publish(scenario.positionnement(person, scenario.rng.choice(sessions[person.region]), bad))
                    if scenario.rng.random() < 0.2:
                        await publish(scenario.demande_aide(person))
                for region in REGIONS:
                    partner = f"region-{region}"
                    rows = [
                        {"_event": "reperage.SignalementDecrochage", **r}
                        for r in scenario.signalements(partner, max(5, self.people // 15))
                    ]
                    rows += [
                        {"_event": "orientation.EvenementOrientation", **r} for r in scenario.orientation(partner, 5)
                    ]
                    for native in scenario.region_messages(partner, rows):
                        await publish(native)
                await producer.flush()
                # Wait until the partners have nothing left to say to each other (bounded, in case of a fault).
                started = time.monotonic()
                self.tally.last_activity = started
                while time.monotonic() - self.tally.last_activity < 3.0 and time.monotonic() - started < 240:
                    progress.update(receiving, completed=sum(self.tally.received.values()))
                    await asyncio.sleep(0.25)
                # The waits past their Region's thresholds on the event clock, with the sessions offered instead.
                await stack.running["attente"].runtime.actions["verifier"]()
                indicators = stack.running["indicators"].runtime.actions["publier"]
                await indicators()
                await asyncio.sleep(3.0)
                progress.update(receiving, completed=sum(self.tally.received.values()))
        finally:
            self._stop.set()
            await asyncio.gather(*desks, return_exceptions=True)
            await producer.stop()

    def _offers(self, scenario: Scenario) -> list[Native]:
        feeds = sorted(self.lheo_dir.glob("*.xml")) if self.lheo_dir.is_dir() else []
        lheo_regions = [
            p for p, flows in scenario.dialects.items() if flows.get("formation.OffreSession") == "lheo-xml"
        ]
        if not feeds:
            out = io.BytesIO()
            write_feed(out, 200_000, self.seed)
            feeds_bytes = [out.getvalue()]
        else:
            # The real feeds' sessions are past: sessions cloned from them in the scenario's year can be offered.
            out = io.BytesIO()
            write_feed(out, 400_000, self.seed, templates=feeds)
            feeds_bytes = [*(f.read_bytes() for f in feeds), out.getvalue()]
        self._feeds = {p: [f.replace(b"<lheo", b"<lheo", 1) for f in feeds_bytes] for p in lheo_regions}
        return [
            Native(p, "formation.OffreSession", f, None, "application/xml")
            for p in lheo_regions
            for f in self._feeds[p]
        ]

    def _sessions(self) -> dict[str, list[str]]:
        sessions: dict[str, list[str]] = defaultdict(list)
        for partner, feeds in self._feeds.items():
            context = InboundContext(partner, pseudonymiser=None)  # type: ignore[arg-type]
            for feed in feeds:
                for outcome in parse_lheo(feed, context):
                    if isinstance(outcome, Draft):
                        sessions[partner.removeprefix("region-")].append(outcome.record["idSession"])
        for region in REGIONS:
            if not sessions[region]:
                sessions[region] = [f"{region}:S{n:04d}" for n in range(1, 40)]
        return sessions

    async def _desk(self, stack: Stack, partner: str, scenario: Scenario, ready: asyncio.Event) -> None:
        """A partner's information system: reads what Passerelle delivers and answers in its own dialect."""
        consumer = AIOKafkaConsumer(
            topics.outbound(partner),
            **stack.access.aiokafka(),
            group_id=f"demo.{partner}",
            auto_offset_reset="earliest",
            fetch_max_wait_ms=stack.settings.fetch_max_wait_ms,
        )
        await consumer.start()
        csv_region = partner == "region-53"
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                if consumer.assignment():
                    ready.set()
                answers: list[dict[str, Any]] = []
                for records in batches.values():
                    for record in records:
                        self.tally.last_activity = time.monotonic()
                        event = subject_of(dict(record.headers or ()).get("ce_type", b"").decode())
                        self.tally.received[f"{event}→{partner}"] += 1
                        try:
                            body = _delivered(record.value, csv_region)
                            if partner == "imilo" and event == "reperage.SignalementDecrochage":
                                await self._publish(scenario.suite_signalement(body))
                            elif event == "formation.Positionnement":
                                answers += scenario.answers_to_positionnement(body)
                            elif event == "aide.DemandeAide":
                                answers.append(scenario.decision_aide(body))
                        except (KeyError, ValueError, TypeError) as exc:  # a partner's bug, not Passerelle's
                            self.tally.received[f"réponse impossible ({type(exc).__name__})→{partner}"] += 1
                if answers and partner != "imilo":
                    bad_rows = 1 if csv_region and scenario.rng.random() < 0.3 else 0
                    for native in scenario.region_messages(partner, answers, bad_rows):
                        await self._publish(native)
        finally:
            await consumer.stop()

    # ------------------------------------------------------------------ the summary

    async def _summary(self, stack: Stack) -> None:
        partners = ["imilo", *(f"region-{r}" for r in REGIONS)]
        delivered: dict[str, Counter[str]] = defaultdict(Counter)
        latencies: dict[str, list[float]] = defaultdict(list)
        indicators: list[dict[str, Any]] = []
        for partner in partners:
            for record in await collect(stack.access, topics.outbound(partner)):
                headers = {k: (v or b"").decode() for k, v in record.headers or ()}
                event = subject_of(headers.get("ce_type", "?"))
                delivered[event][partner] += 1
                if "ce_time" in headers:
                    latencies[event].append(record.timestamp / 1000 - parse_time(headers["ce_time"]).timestamp())
                if event == "pilotage.Indicateurs" and partner == "imilo":
                    indicators.append(orjson.loads(record.value))
        failures: dict[str, Counter[str]] = defaultdict(Counter)
        for service in topics.SERVICES:
            for record in await collect(stack.access, topics.dlq(service)):
                headers = {k: (v or b"").decode() for k, v in record.headers or ()}
                contract = headers.get("passerelle_error_contract", "").split(" ")[0]
                event = subject_of(headers.get(ORIGINAL_PREFIX + "ce_type") or contract or "?")
                failures[event][headers.get("passerelle_error_code", "?")] += 1
        table = Table(title="Passerelle — bilan par flux")
        for column in ("flux", "envoyés", "livrés (destinataire)", "DLQ", "principales erreurs", "latence p50", "p99"):
            table.add_column(column)
        events = sorted(set(self.tally.sent) | set(delivered) | set(failures))
        for event in events:
            lat = sorted(latencies.get(event, []))
            p50 = f"{statistics.median(lat) * 1000:.0f} ms" if lat else "-"
            p99 = f"{lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000:.0f} ms" if lat else "-"
            table.add_row(
                event,
                str(self.tally.sent.get(event, 0)),
                ", ".join(f"{p}: {n}" for p, n in sorted(delivered[event].items())) or "-",
                str(sum(failures[event].values())),
                ", ".join(f"{c} ×{n}" for c, n in failures[event].most_common(3)) or "-",
                p50,
                p99,
            )
        self.console.print(table)
        self._indicator_table(indicators)

    async def _open_data(self, stack: Stack) -> None:
        """Write the open-data export of every month played, as ``passerelle indicateurs export`` would."""
        codec = next(iter(stack.running.values())).runtime.ctx.codec
        with self.progress_console.status("Export des indicateurs en données ouvertes…"):
            done = await export_from_broker(stack.access, codec, self.opendata_dir)
        self.console.print(
            f"Données ouvertes ({', '.join(done.months) or 'aucun mois'}) : {done.rows} ligne(s), "
            f"{done.masked} cellule(s) masquée(s) au titre du secret statistique, écrites dans {self.opendata_dir}",
            markup=False,
            soft_wrap=True,
        )

    def _indicator_table(self, rows: Sequence[dict[str, Any]]) -> None:
        table = Table(title="Indicateurs de la convention (service indicateurs) — par région, tous mois confondus")
        for column in (
            "région",
            "positionnements",
            "entrées",
            "taux d'entrée",
            "liste d'attente",
            "délai pos.→entrée (médiane)",
            "p90",
            "signalements",
            "contactés",
            "délai contact (médiane)",
        ):
            table.add_column(column)
        latest: dict[str, list[dict[str, Any]]] = defaultdict(list)
        newest = max((r["calculeLe"] for r in rows), default=None)
        for row in rows:
            if row["calculeLe"] == newest:
                latest[row["region"]].append(row)
        for region, months in sorted(latest.items()):
            pos = sum(m.get("nbPositionnements", 0) for m in months)
            ent = sum(m.get("nbEntrees", 0) for m in months)
            wait = [m["partListeAttente"] * m["nbPositionnements"] for m in months if m.get("partListeAttente")]
            med = [
                m["delaiPositionnementEntreeJoursMedian"]
                for m in months
                if m.get("delaiPositionnementEntreeJoursMedian")
            ]
            p90 = [m["delaiPositionnementEntreeJoursP90"] for m in months if m.get("delaiPositionnementEntreeJoursP90")]
            sig = sum(m.get("nbSignalements", 0) for m in months)
            con = sum(m.get("nbSignalementsContactes", 0) for m in months)
            contact = [
                m["delaiSignalementContactJoursMedian"] for m in months if m.get("delaiSignalementContactJoursMedian")
            ]
            table.add_row(
                region,
                str(pos),
                str(ent),
                f"{ent / pos:.0%}" if pos else "-",
                f"{sum(wait) / pos:.0%}" if pos else "-",
                f"{statistics.median(med):.0f} j" if med else "-",
                f"{max(p90):.0f} j" if p90 else "-",
                str(sig),
                str(con),
                f"{statistics.median(contact):.0f} j" if contact else "-",
            )
        self.console.print(table)

    async def _waits(self, stack: Stack) -> None:
        """The waits the attente service noticed, as I-MILO received them: how many young people were nudged."""
        alerts = [
            orjson.loads(r.value)
            for r in await collect(stack.access, topics.outbound("imilo"))
            if subject_of(dict(r.headers or ()).get("ce_type", b"").decode()) == "formation.AttenteProlongee"
        ]
        steps = Counter(a["etape"] for a in alerts)
        offered = sum(1 for a in alerts if a.get("alternatives"))
        self.console.print(
            f"Attentes prolongées : {len({a['pseudonyme'] for a in alerts})} jeune(s) relancé(s) auprès de leur "
            f"Mission Locale — {steps['REPONSE']} sans réponse, {steps['ENTREE']} admis sans entrée ; "
            f"{offered} avec des sessions plus proches proposées",
            markup=False,
            soft_wrap=True,
        )
        if not alerts:
            return
        table = Table(title="Quelques attentes remarquées (service attente) et les sessions proposées")
        for column in ("région", "étape", "attente", "seuil", "session visée", "sessions proposées"):
            table.add_column(column)
        shown = sorted(alerts, key=lambda a: (-len(a.get("alternatives", [])), a["idAttente"]))[:5]
        for alert in shown:
            alternatives = alert.get("alternatives", [])
            table.add_row(
                alert["region"],
                alert["etape"],
                f"{alert['joursAttente']} j (depuis le {alert['attenteDepuis']})",
                f"{alert['seuilJours']} j",
                alert.get("intituleSession") or alert["idSession"],
                "\n".join(
                    [
                        *(
                            f"{a['intitule']} — {a.get('ville') or a['region']}, le {a.get('dateDebut', '?')} "
                            f"({a['correspondance']}, {a['proximite']})"
                            for a in alternatives[:2]
                        ),
                        *([f"et {len(alternatives) - 2} autre(s)"] if len(alternatives) > 2 else []),
                    ]
                )
                or "aucune",
            )
        self.console.print(table)


def _delivered(value: bytes, is_csv: bool) -> dict[str, Any]:
    """A delivered message as a nested dict with snake_case keys, whatever the dialect."""
    if not is_csv:
        body: dict[str, Any] = orjson.loads(value)
        return body
    reader = csv.DictReader(io.StringIO(value.decode("latin-1")), delimiter=";")
    row = next(reader)
    nested: dict[str, Any] = {"jeune": {}}
    for key, cell in row.items():
        if key.startswith("jeune_"):
            nested["jeune"][key.removeprefix("jeune_")] = cell
        elif cell != "":
            nested[key] = cell
    return nested
