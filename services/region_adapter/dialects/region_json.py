"""Region JSON: snake_case field names after the contract, ISO dates, one object or an array of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from passerelle.core.dialect import InboundContext, OutboundContext, Outcome, Rejected, Rendered
from passerelle.core.privacy import may_hold_nir
from passerelle.core.shapes import write_nested
from services.region_adapter.dialects.common import event_of, translate

CONTENT_TYPE = "application/json"


def parse(payload: bytes, context: InboundContext) -> Iterator[Outcome]:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        yield Rejected.one("json", f"JSON illisible : {exc}", "$")
        return
    items = document if isinstance(document, list) else [document]
    suspect = may_hold_nir(payload)
    for index, item in enumerate(items):
        path = f"[{index}]." if isinstance(document, list) else ""
        position = f"élément {index + 1}" if isinstance(document, list) else None
        if not isinstance(item, dict):
            yield Rejected.one("type", "objet JSON attendu", path.rstrip(".") or "$", position=position)
            continue
        event = event_of(item, context, path)
        if isinstance(event, Rejected):
            yield Rejected(event.problems, position)
            continue
        yield translate(item, event, context, position or "message", textual=False, path=path, suspect=suspect)


def render(subject: str, record: dict[str, Any], context: OutboundContext) -> Rendered:
    body = write_nested(record, context.shape.root)
    return Rendered(orjson.dumps({"evenement": subject, **body}), CONTENT_TYPE)
