"""The registry's records in Kafka, in the ``_schemas`` layout Confluent's Schema Registry and Karapace share.

A key is a JSON object whose properties come in Confluent's order (``keytype``, ``subject``, ``version``,
``magic``), written compactly, so the same fact always has the same key bytes and log compaction keeps only the
last of it; either of those registries can read a topic Passerelle's wrote, and the other way round:

- ``SCHEMA`` (subject, version): ``{"subject", "version", "id", "schema", "deleted"}``; no value (a tombstone)
  is the version's permanent deletion;
- ``CONFIG`` (subject, or null for the global level): ``{"compatibilityLevel"}``;
- ``MODE`` (null subject): ``{"mode"}``, which Karapace ignores;
- ``DELETE_SUBJECT`` (subject): ``{"subject", "version"}``, every version up to it soft-deleted;
- ``NOOP``: nothing, a marker a writer reads back to know it has read all that came before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class KeyType(str, Enum):
    SCHEMA = "SCHEMA"
    CONFIG = "CONFIG"
    MODE = "MODE"
    DELETE_SUBJECT = "DELETE_SUBJECT"
    NOOP = "NOOP"


_ORDER = ("keytype", "subject", "version", "magic")


def _compact(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Record:
    key: Mapping[str, Any]
    value: Mapping[str, Any] | None

    @property
    def keytype(self) -> KeyType:
        return KeyType(self.key["keytype"])

    @property
    def subject(self) -> str | None:
        subject = self.key.get("subject")
        return str(subject) if subject is not None else None

    def key_bytes(self) -> bytes:
        return _compact({name: self.key[name] for name in _ORDER if name in self.key})

    def value_bytes(self) -> bytes | None:
        return None if self.value is None else _compact(self.value)


def schema_record(subject: str, version: int, schema_id: int, text: str, deleted: bool = False) -> Record:
    return Record(
        {"keytype": KeyType.SCHEMA.value, "subject": subject, "version": version, "magic": 1},
        {"subject": subject, "version": version, "id": schema_id, "schema": text, "deleted": deleted},
    )


def schema_tombstone(subject: str, version: int) -> Record:
    return Record({"keytype": KeyType.SCHEMA.value, "subject": subject, "version": version, "magic": 1}, None)


def config_record(subject: str | None, level: str) -> Record:
    return Record({"keytype": KeyType.CONFIG.value, "subject": subject, "magic": 0}, {"compatibilityLevel": level})


def mode_record(mode: str) -> Record:
    return Record({"keytype": KeyType.MODE.value, "subject": None, "magic": 0}, {"mode": mode})


def noop_record() -> Record:
    return Record({"keytype": KeyType.NOOP.value, "magic": 0}, None)


class UnreadableRecord(ValueError):
    """A record of the topic this registry cannot use (another tool's, or damaged): skipped, and said."""


def decode(key: bytes | None, value: bytes | None) -> Record:
    try:
        parsed_key = json.loads(key) if key else None
        parsed_value = json.loads(value) if value else None
    except ValueError as exc:
        raise UnreadableRecord(f"JSON illisible : {exc}") from None
    if not isinstance(parsed_key, dict) or not isinstance(parsed_value, dict | None):
        raise UnreadableRecord("clé ou valeur qui n'est pas un objet JSON")
    try:
        KeyType(parsed_key.get("keytype"))
    except ValueError:
        raise UnreadableRecord(f"type de clé inconnu : {parsed_key.get('keytype')!r}") from None
    return Record(parsed_key, parsed_value)
