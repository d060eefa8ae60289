"""A posted body, cut in pieces as ``passerelle ingest`` cuts a file, each piece checked by the partner's adapter.

Each piece is checked exactly as the adapter will read it from ``in.<partner>`` (same headers, same ``ce_id``),
so the event ids the gateway answers with are the ids the adapter will give, and its errors are those the
feedback topic will carry (native field paths, line numbers of the whole file).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import orjson

from passerelle.broker import topics
from passerelle.core.envelope import SPECVERSION, event_type, format_time, header_dict
from passerelle.core.events import Dialect, Family
from passerelle.core.headers import CORRELATION_ID, FIRST_LINE, SENDER
from passerelle.core.lheo_stream import split_lheo
from passerelle.core.partners import PartnerProfile
from passerelle.core.pieces import split_csv
from passerelle.runtime.messages import Incoming
from passerelle.runtime.tally import Tally
from services.adapter.inbound import InboundTranslator

Headers = list[tuple[str, bytes]]
Piece = tuple[bytes, Headers]  # a piece's bytes and the headers of its own (where a CSV piece starts)
PIECE_BYTES = 512_000  # as ``passerelle ingest``: well under any broker's message limit

JSON, CSV, XML = "application/json", "text/csv", "application/xml"
MEDIA_TYPES = {JSON: JSON, CSV: CSV, XML: XML, "text/xml": XML}
_DIALECT_MEDIA = {
    Dialect.IMILO_JSON: JSON,
    Dialect.REGION_JSON: JSON,
    Dialect.REGION_CSV: CSV,
    Dialect.LHEO_XML: XML,
}
LHEO_EVENT = "formation.OffreSession"


@dataclass(frozen=True)
class Borrowed:
    """What the gateway borrows from the adapter services, lent by the composition root (services stay apart)."""

    translators: Mapping[Family, InboundTranslator]


@dataclass
class Verdict:
    """What the adapter will make of the pieces: the events it will publish and every item it will refuse."""

    event_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0
    rejected: int = 0
    pieces: int = 0


def media_type(content_type: str | None) -> str | None:
    """The body's kind from its Content-Type (parameters such as charset aside), None when not one we read."""
    return MEDIA_TYPES.get((content_type or "").split(";")[0].strip().lower())


def expected_media(profile: PartnerProfile, event: str | None) -> str | None:
    """The Content-Type the partner's profile publishes ``event`` in; None when it does not publish it."""
    flow = profile.publishes.get(event or "")
    return _DIALECT_MEDIA[flow.dialect] if flow else None


def pieces(media: str, source: BinaryIO, max_bytes: int = PIECE_BYTES) -> Iterator[Piece]:
    """The body cut as ``passerelle ingest`` cuts a file; a JSON document stays whole."""
    if media == CSV:
        for first_line, piece in split_csv(source, max_bytes):
            yield piece, [(FIRST_LINE, str(first_line).encode())]
    elif media == XML:
        for piece in split_lheo(source, max_bytes):
            yield piece, []
    else:
        yield source.read(), []


def record_headers(
    partner: str, event: str | None, media: str, ce_id: str, message_id: str, moment: datetime
) -> Headers:
    """A piece's CloudEvents attributes, in the partner's name (the adapter's origin check accepts them)."""
    headers: Headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", ce_id.encode()),
        ("ce_source", partner.encode()),
        ("ce_time", format_time(moment).encode()),
        ("content-type", media.encode()),
        (SENDER, partner.encode()),
        (CORRELATION_ID, message_id.encode()),
    ]
    if event:
        headers.insert(2, ("ce_type", event_type(event).encode()))
    return headers


def check_piece(translator: InboundTranslator, partner: str, value: bytes, headers: Headers, verdict: Verdict) -> None:
    """Run one piece through the adapter's own translation, without a broker, and add what it did to ``verdict``."""
    incoming = Incoming(
        topics.inbound(partner), 0, 0, None, value, header_dict(headers), tuple(headers), int(time.time() * 1000)
    )
    verdict.pieces += 1
    for output in translator.process(incoming, Tally()):
        if output.topic.startswith("canon."):
            verdict.event_ids.extend(v.decode() for k, v in output.headers if k == "ce_id")
        elif output.topic == topics.feedback(partner):
            body = orjson.loads(output.value)
            verdict.rejected += body["rejetes"]
            verdict.errors.extend(body["erreurs"])
            verdict.omitted += body["erreursOmises"]
