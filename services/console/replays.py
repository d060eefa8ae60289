"""Replaying dead letters from the console, through the same ``DlqEntry.replay`` as ``passerelle dlq replay``.

Each replay is written to an append-only topic of its own (who, when, which record, whether its body was
edited and the edited body's digest, never the body), then its outcome is read from where the replayed
message went: back into a DLQ, or into ``canon.*`` and, per the audit journal, out to its recipients.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import structlog

from passerelle.broker import topics
from passerelle.core.envelope import header_dict, subject_of
from passerelle.core.headers import CAUSE, REPLAY
from passerelle.runtime.messages import Output
from passerelle.runtime.replay import DlqEntry

log = structlog.get_logger("passerelle.console")

JOURNAL_TOPIC = topics.REPLAYS_TOPIC


def event_of(entry: DlqEntry) -> str:
    """The event the record was meant to be: its type when it said one, else the contract the error names."""
    return subject_of(entry.original("ce_type")) or entry.error("contract").partition(" ")[0]


class TopicReader(Protocol):
    async def records(self, topic: str) -> list[Any]:
        """Every committed record of ``topic`` (none when it does not exist)."""
        ...


class Sender(Protocol):
    async def send(self, outputs: Sequence[Output]) -> None:
        """Produce every output and wait for each acknowledgement."""
        ...


@dataclass(frozen=True)
class Replay:
    """One journal line: a DLQ record sent back to its source topic by someone, at some moment."""

    id: str
    batch: str
    user: str
    via: str
    at_s: float
    dlq: str
    ref: str
    source_topic: str
    event: str
    mark: str  # the passerelle_replay header the replayed record carries
    correlation: str
    edited: bool
    body_sha256: str

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "lot": self.batch,
                "qui": self.user,
                "via": self.via,
                "quand": datetime.fromtimestamp(self.at_s, UTC).isoformat(),
                "dlq": self.dlq,
                "ref": self.ref,
                "topicSource": self.source_topic,
                "evenement": self.event,
                "marque": self.mark,
                "correlation": self.correlation,
                "corpsModifie": self.edited,
                "corpsSha256": self.body_sha256,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Replay | None:
        try:
            body = orjson.loads(raw)
            return cls(
                body["id"],
                body["lot"],
                body["qui"],
                body["via"],
                datetime.fromisoformat(body["quand"]).timestamp(),
                body["dlq"],
                body["ref"],
                body["topicSource"],
                body["evenement"],
                body["marque"],
                body["correlation"],
                bool(body["corpsModifie"]),
                body["corpsSha256"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Outcome:
    """Where a replayed message went: ``en_attente``, ``rejete`` (a new DLQ record) or ``accepte``."""

    state: str
    again: tuple[DlqEntry, ...] = ()
    canonical: tuple[str, ...] = ()  # canon.<event> partition:offset
    delivered: tuple[tuple[str, str], ...] = ()  # (out.<partner>, partition:offset)

    @property
    def label(self) -> str:
        if self.state == "rejete":
            return "de nouveau rejeté"
        if self.state == "accepte":
            return "livré" if self.delivered else "accepté, livraison en cours"
        return "en attente de traitement"


@dataclass(frozen=True)
class Replays:
    """Sends replays and keeps their journal; reads outcomes from the topics themselves."""

    reader: TopicReader
    sender: Sender
    clock: Callable[[], float] = field(default=time.time)

    async def replay(
        self, chosen: Sequence[tuple[DlqEntry, bytes | None]], user: str, via: str
    ) -> tuple[str, list[Replay]]:
        """Send each entry back (with its edited body when given) and record it; the batch id and the lines."""
        batch = uuid.uuid4().hex[:12]
        outputs: list[Output] = []
        lines: list[Replay] = []
        for entry, body in chosen:
            output = entry.replay()  # raises ValueError for a record that does not say where it came from
            if body is not None:
                output = output._replace(value=body)
            outputs.append(output)
            mark = dict(output.headers).get(REPLAY, b"").decode()
            lines.append(
                Replay(
                    uuid.uuid4().hex[:16],
                    batch,
                    user,
                    via,
                    self.clock(),
                    entry.topic,
                    entry.ref,
                    output.topic,
                    event_of(entry),
                    mark,
                    entry.header("correlation_id"),
                    body is not None and body != entry.value,
                    hashlib.sha256(output.value).hexdigest(),
                )
            )
        # The journal first: a replay never happens unrecorded, even if the send then fails.
        await self.sender.send([Output(JOURNAL_TOPIC, line.to_json(), line.id.encode(), []) for line in lines])
        await self.sender.send(outputs)
        for line in lines:
            log.info("console.rejeu", operateur=user, dlq=line.dlq, ref=line.ref, lot=batch, modifie=line.edited)
        return batch, lines

    async def journal(self) -> list[Replay]:
        lines = [Replay.from_json(r.value or b"") for r in await self.reader.records(JOURNAL_TOPIC)]
        return sorted((line for line in lines if line), key=lambda line: line.at_s, reverse=True)

    async def outcomes(self, lines: Sequence[Replay]) -> dict[str, Outcome]:
        """Each line's outcome, reading every topic involved once."""
        if not lines:
            return {}
        dlqs = {line.dlq for line in lines}
        again: dict[str, list[DlqEntry]] = {}
        for dlq in sorted(dlqs):
            for record in await self.reader.records(dlq):
                entry = DlqEntry.from_record(record)
                again.setdefault(entry.header(REPLAY), []).append(entry)
        canonical: dict[str, list[tuple[str, str]]] = {}  # mark → (ref, ce_id)
        for event in sorted({line.event for line in lines if line.event}):
            for record in await self.reader.records(topics.canonical(event)):
                headers = _headers(record)
                cause = headers.get(CAUSE, "")
                mark = cause.rpartition("#")[2] if "#" in cause else ""
                if mark:
                    canonical.setdefault(mark, []).append((f"{record.partition}:{record.offset}", headers["ce_id"]))
        recipients = await self._recipients({ce_id for refs in canonical.values() for _, ce_id in refs})
        out = await self._outbound({p for ps in recipients.values() for p in ps})
        result: dict[str, Outcome] = {}
        for line in lines:
            if again.get(line.mark):
                result[line.id] = Outcome("rejete", again=tuple(again[line.mark]))
                continue
            made = canonical.get(line.mark, [])
            if not made:
                result[line.id] = Outcome("en_attente")
                continue
            partners = sorted({p for _, ce_id in made for p in recipients.get(ce_id, ())})
            delivered = tuple(
                (topics.outbound(p), ref)
                for p in partners
                for ref, at_ms in out.get((p, line.correlation), [])
                if at_ms >= line.at_s * 1000 - 1000
            )
            result[line.id] = Outcome("accepte", canonical=tuple(ref for ref, _ in made), delivered=delivered)
        return result

    async def _recipients(self, event_ids: set[str]) -> dict[str, set[str]]:
        if not event_ids:
            return {}
        found: dict[str, set[str]] = {}
        for record in await self.reader.records(topics.AUDIT_TOPIC):
            try:
                body = orjson.loads(record.value or b"")
            except orjson.JSONDecodeError:
                continue
            if isinstance(body, dict) and body.get("idEvenement") in event_ids:
                found.setdefault(str(body["idEvenement"]), set()).add(str(body.get("destinataire")))
        return found

    async def _outbound(self, partners: set[str]) -> dict[tuple[str, str], list[tuple[str, int]]]:
        """(partner, correlation id) → the out.<partner> records (ref, time) carrying it."""
        found: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for partner in sorted(partners):
            for record in await self.reader.records(topics.outbound(partner)):
                correlation = _headers(record).get("correlation_id", "")
                ref = f"{record.partition}:{record.offset}"
                found.setdefault((partner, correlation), []).append((ref, record.timestamp))
        return found


def _headers(record: Any) -> dict[str, str]:
    return header_dict(record.headers or ())
