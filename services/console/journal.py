"""The audit journal as the console reads it: deliveries searched by event, partner, type and time; the chain
verified with the router's public keys only, by ``passerelle.core.audit.verify`` as ``passerelle audit verify``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from passerelle.core.audit import VerifyReport, verify


@dataclass(frozen=True)
class Delivery:
    position: str  # partition:offset on audit.deliveries
    chain: str
    sequence: int
    event_id: str
    event_type: str
    sender: str
    recipient: str
    fields: tuple[str, ...]
    at: str

    @classmethod
    def parse(cls, position: str, raw: bytes) -> Delivery | None:
        try:
            body = orjson.loads(raw)
            return cls(
                position,
                str(body["chaine"]),
                int(body["sequence"]),
                str(body["idEvenement"]),
                str(body["typeEvenement"]),
                str(body["expediteur"]),
                str(body["destinataire"]),
                tuple(str(f) for f in body.get("champsLivres") or ()),
                str(body["horodatage"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Search:
    event_id: str = ""
    partner: str = ""  # sender or recipient
    event_type: str = ""
    since: str = ""  # ISO dates or date-times, compared as the records' UTC times
    until: str = ""

    def matches(self, d: Delivery) -> bool:
        moment = _moment(d.at)
        return (
            (not self.event_id or self.event_id in d.event_id)
            and (not self.partner or self.partner in (d.sender, d.recipient))
            and (not self.event_type or self.event_type in d.event_type)
            and (not self.since or (moment is not None and moment >= _bound(self.since)))
            and (not self.until or (moment is not None and moment <= _bound(self.until, end=True)))
        )


def positions(records: Sequence[Any]) -> list[tuple[str, bytes]]:
    return [(f"{r.partition}:{r.offset}", r.value or b"") for r in records]


def search(records: Sequence[tuple[str, bytes]], wanted: Search, limit: int = 500) -> tuple[list[Delivery], int]:
    """The matching deliveries, newest first, at most ``limit``; and how many matched in all."""
    found = [d for position, raw in records if (d := Delivery.parse(position, raw)) and wanted.matches(d)]
    found.sort(key=lambda d: d.at, reverse=True)
    return found[:limit], len(found)


def check(records: Sequence[tuple[str, bytes]], public_keys: Sequence[Ed25519PublicKey]) -> VerifyReport:
    return verify(records, public_keys)


def _moment(text: str) -> str | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None


def _bound(text: str, end: bool = False) -> str:
    """A form's date or date-time as a sortable UTC string; a bare date covers its whole day."""
    text = text.strip().replace(" ", "T")
    if len(text) == 10:
        return text + ("T23:59:59" if end else "T00:00:00")
    return (text + ":00")[:19] if len(text) == 16 else text[:19]
