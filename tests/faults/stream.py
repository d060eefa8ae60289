"""A stream crossing every flow, what arrives at each ``out.<partner>``, and what ``/health`` said meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import partitions_of
from passerelle.simulation import native as simulated
from passerelle.stack.processes import ProcessStack
from tests.e2e.traffic import PSEUDO, positionnement
from tests.flows import header


@dataclass(frozen=True, slots=True)
class Item:
    """One native message, its marker (ce_id, hence the outputs' correlation id) and where it must arrive."""

    topic: str
    value: bytes
    marker: str
    out: str
    event: str


def _region_53_csv_statut(i: str) -> bytes:
    header_line = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut\r\n"
    row = f"P-{i};{PSEUDO('imilo', f'D-{i}')};53:1;35238S00;ADMIS;07/03/2026\r\n"
    return (header_line + row).encode("latin-1")


def _region_24_json_statut(i: str) -> bytes:
    return simulated.region_json_message(
        "formation.StatutCandidature",
        {
            "id_positionnement": f"P-{i}",
            "pseudonyme": PSEUDO("imilo", f"D-{i}"),
            "id_session": "24:1",
            "code_structure": "37261S00",
            "statut": "ADMIS",
            "date_statut": "2026-03-12",
        },
    )


def mixed(run: str, count: int) -> list[Item]:
    """``count`` messages over the four flows in turn: I-MILO JSON to a JSON Region and to a CSV Region, a
    JSON Region and a Latin-1 CSV Region to I-MILO. Each gives exactly one record on its ``out`` topic."""
    items = []
    for n in range(count):
        i = f"{run}-{n}"
        match n % 4:
            case 0:
                items.append(Item("in.imilo", positionnement(i), i, "out.region-24", "formation.Positionnement"))
            case 1:
                value = positionnement(i, session="53:1")
                items.append(Item("in.imilo", value, i, "out.region-53", "formation.Positionnement"))
            case 2:
                value = _region_24_json_statut(i)
                items.append(Item("in.region-24", value, i, "out.imilo", "formation.StatutCandidature"))
            case _:
                value = _region_53_csv_statut(i)
                items.append(Item("in.region-53", value, i, "out.imilo", "formation.StatutCandidature"))
    return items


async def send(producer: AIOKafkaProducer, items: Sequence[Item], rate: float) -> None:
    """Send at about ``rate`` messages a second, each acknowledged by the broker (acks=all)."""
    started = time.monotonic()
    pending = []
    for n, item in enumerate(items):
        headers = [("ce_id", item.marker.encode()), ("ce_type", item.event.encode())]
        pending.append(await producer.send(item.topic, item.value, key=item.marker.encode(), headers=headers))
        ahead = started + n / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    await asyncio.gather(*pending)


@dataclass
class Arrivals:
    """Reads every ``out`` topic of the stream from its beginning, committed records only, and counts the
    records carrying each marker: 0 is a loss, 2 or more a duplicate."""

    access: KafkaAccess
    topics: Sequence[str]
    counts: Counter[str] = field(default_factory=Counter)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Arrivals:
        self._consumer = AIOKafkaConsumer(
            **self.access.aiokafka(), group_id=None, enable_auto_commit=False, isolation_level="read_committed"
        )
        await self._consumer.start()
        tps = [TopicPartition(t, p) for t in self.topics for p in sorted(await partitions_of(self._consumer, t))]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                self.counts.update(header(r, "correlation_id") or "?" for r in records)

    async def complete(self, items: Sequence[Item], timeout_s: float, settle_s: float = 5.0) -> Outcome:
        """Waits until every item arrived (or the time is up), then ``settle_s`` more for late duplicates."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(self.counts[i.marker] == 0 for i in items):
            await asyncio.sleep(0.5)
        await asyncio.sleep(settle_s)
        return Outcome.of(items, self.counts)

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


@dataclass(frozen=True)
class Outcome:
    sent: int
    lost: list[str]
    doubled: dict[str, int]

    @classmethod
    def of(cls, items: Sequence[Item], counts: Counter[str]) -> Outcome:
        lost = [i.marker for i in items if counts[i.marker] == 0]
        doubled = {i.marker: counts[i.marker] for i in items if counts[i.marker] > 1}
        return cls(len(items), lost, doubled)

    def figures(self) -> dict[str, int]:
        return {"envoyes": self.sent, "perdus": len(self.lost), "doubles": len(self.doubled)}

    def __str__(self) -> str:
        return f"{self.sent} envoyés, {len(self.lost)} perdus {self.lost[:5]}, {len(self.doubled)} en double"


@dataclass
class HealthLog:
    """Every service's ``/health`` every half second: (seconds since start, service, status, body)."""

    services: ProcessStack
    answers: list[tuple[float, str, int, str]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HealthLog:
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._poll())
        return self

    async def _poll(self) -> None:
        async with httpx.AsyncClient() as client:
            while True:
                for name in self.services.services:
                    code, body = await self.services.health(client, name)
                    self.answers.append((time.monotonic() - self._started, name, code, body))
                await asyncio.sleep(0.5)

    def now(self) -> float:
        return time.monotonic() - self._started

    def between(self, start: float, end: float, names: Iterable[str] | None = None) -> list[tuple[str, int, str]]:
        wanted = set(names) if names is not None else set(self.services.services)
        return [(n, code, body) for t, n, code, body in self.answers if start <= t <= end and n in wanted]

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
