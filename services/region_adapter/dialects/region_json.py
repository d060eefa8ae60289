"""Region JSON: snake_case field names after the contract, ISO dates, one object or an array of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from passerelle.core.dialect import InboundContext, OutboundContext, Outcome, ReadThenMap, Rejected, Rendered
from passerelle.core.native_json import JsonMessage, read_message
from passerelle.core.shapes import write_nested
from services.region_adapter.dialects.common import REGION_IN, event_of, translate

CONTENT_TYPE = "application/json"


def _items(message: JsonMessage, context: InboundContext) -> Iterator[Outcome]:
    for item in message.items:
        path = f"{item.prefix}." if item.prefix else ""
        if item.problems:  # first: a NIR anywhere, even as the event's name, is refused without echo
            named = item.value.get("evenement") if isinstance(item.value, dict) else None
            yield Rejected(item.problems, item.position, named if named in REGION_IN else None)
            continue
        if not isinstance(item.value, dict):
            yield Rejected.one("type", "objet JSON attendu", item.prefix or "$", position=item.position)
            continue
        event = event_of(item.value, context, path)
        if isinstance(event, Rejected):
            yield Rejected(event.problems, item.position)
            continue
        yield translate(item.value, event, context, item.position or "message", textual=False, path=path)


parse = ReadThenMap(read_message, _items)


def render(subject: str, record: dict[str, Any], context: OutboundContext) -> Rendered:
    body = write_nested(record, context.shape.root)
    return Rendered(orjson.dumps({"evenement": subject, **body}), CONTENT_TYPE)
