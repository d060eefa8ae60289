"""What the JSON dialects share: a message is one object or an array of them, each item known by its place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from passerelle.core.dialect import Rejected
from passerelle.core.privacy import may_hold_nir


@dataclass(frozen=True, slots=True)
class JsonItem:
    value: Any
    index: int
    # "[3]" inside an array, "" for a lone object: the prefix of every native path of this item.
    prefix: str
    # "élément 4" inside an array, None for a lone object: what feedback calls this item.
    position: str | None


@dataclass(frozen=True, slots=True)
class JsonMessage:
    items: tuple[JsonItem, ...]
    # False when a scan of the raw bytes found nothing that could be a NIR: the per-field walk is skipped.
    suspect: bool


def read_json(payload: bytes) -> JsonMessage | Rejected:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Rejected.one("json", _unreadable(payload, exc), "$")
    suspect = may_hold_nir(payload)
    if not isinstance(document, list):
        return JsonMessage((JsonItem(document, 0, "", None),), suspect)
    items = tuple(JsonItem(item, i, f"[{i}]", f"élément {i + 1}") for i, item in enumerate(document))
    return JsonMessage(items, suspect)


def _unreadable(payload: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"JSON illisible : octets invalides en UTF-8 à la position {bad.start} (le JSON est toujours en UTF-8)"
    return f"JSON illisible ligne {exc.lineno}, colonne {exc.colno} : {exc.msg}"
