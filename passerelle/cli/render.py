"""One consumed record as one JSON line: headers, key, and the value decoded (Avro) or as text."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import orjson

from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.errors import ContractError


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
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
        "headers": {k: (v or b"").decode("utf-8", "replace") for k, v in record.headers or ()},
        "schema": schema,
        "value": value,
    }


def as_json_line(data: dict[str, Any]) -> str:
    return orjson.dumps(data, default=_default).decode()
