"""What the CLI writes: the consoles (results on stdout, progress and errors on stderr) and JSON documents.

Every console is made here, so ``NO_COLOR`` (no-color.org) means no escape sequence at all, bold and dim
included, and ``--json`` output is one document that nothing else shares stdout with.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import orjson
from rich.console import Console

from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.errors import ContractError
from passerelle.core.envelope import header_dict

JSON_HELP = "Écrire le résultat en JSON sur la sortie standard (un seul document, pour les scripts)."


def no_color() -> bool:
    """Any non-empty ``NO_COLOR`` asks for plain text (no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A console for results (stdout) or for progress and errors (``stderr=True``)."""
    plain = no_color()
    # Rich drops colours for NO_COLOR but keeps bold and dim; without a colour system it writes no style at all.
    return Console(stderr=stderr, width=width, highlight=False, no_color=plain, color_system=None if plain else "auto")


def emit_json(document: Any) -> None:
    """One JSON document on stdout, and nothing else there."""
    sys.stdout.write(orjson.dumps(document, default=_default, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal | PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def record_as_dict(record: Any, codec: AvroCodec) -> dict[str, Any]:
    value: Any = None
    schema: str | None = None
    raw = record.value or b""
    if raw[:1] == b"\x00":
        try:
            decoded = codec.decode(raw)
            value, schema = decoded.record, f"{decoded.subject} v{decoded.version} (id {decoded.schema_id})"
        except ContractError as exc:
            value = {"erreur_decodage": str(exc)}
    else:
        text = raw.decode("utf-8", "replace")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = text
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
        "headers": header_dict(record.headers or ()),
        "schema": schema,
        "value": value,
    }


def as_json_line(data: dict[str, Any]) -> str:
    return orjson.dumps(data, default=_default).decode()


def timestamp(ms: int) -> str:
    """A broker timestamp (milliseconds) as UTC ISO 8601, the form scripts parse."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
