"""The contracts as the console shows them: each version's fields flattened, their ``pii`` category, and the
field-by-field difference between two versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passerelle.core.contracts.catalogue import SchemaVersion


@dataclass(frozen=True)
class Field:
    path: str
    type: str
    required: bool  # no default: a producer must write it
    pii: str
    doc: str


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "ajouté", "retiré", "modifié"
    before: Field | None
    after: Field | None

    @property
    def what(self) -> str:
        if self.before is None or self.after is None:
            return ""
        said = []
        if self.before.type != self.after.type:
            said.append(f"type {self.before.type} → {self.after.type}")
        if self.before.required != self.after.required:
            said.append("devient obligatoire" if self.after.required else "devient facultatif")
        if self.before.pii != self.after.pii:
            said.append(f"pii {self.before.pii or '—'} → {self.after.pii or '—'}")
        if self.before.doc != self.after.doc:
            said.append("documentation")
        return ", ".join(said)


def _type_name(avro: Any, named: dict[str, Any]) -> str:
    if isinstance(avro, str):
        return avro
    if isinstance(avro, list):
        return " | ".join(_type_name(t, named) for t in avro)
    if isinstance(avro, dict):
        kind = avro.get("type")
        if "logicalType" in avro:
            return f"{avro['logicalType']} ({kind})"
        if kind == "array":
            return f"array<{_type_name(avro.get('items'), named)}>"
        if kind == "map":
            return f"map<{_type_name(avro.get('values'), named)}>"
        if kind == "enum":
            return "enum {" + ", ".join(avro.get("symbols", [])) + "}"
        if kind in ("record", "fixed"):
            return str(avro.get("name", kind))
        return _type_name(kind, named)
    return str(avro)


def _records_in(avro: Any) -> list[dict[str, Any]]:
    """The record schemas a field's type holds directly (through unions and arrays)."""
    if isinstance(avro, list):
        return [r for t in avro for r in _records_in(t)]
    if isinstance(avro, dict):
        if avro.get("type") == "record":
            return [avro]
        if avro.get("type") == "array":
            return _records_in(avro.get("items"))
        if isinstance(avro.get("type"), dict | list):
            return _records_in(avro["type"])
    return []


def fields_of(schema: Mapping[str, Any]) -> list[Field]:
    """Every field of the contract, nested ones as ``a.b``, array items as ``a[].b``; a named record once."""
    out: list[Field] = []
    seen: set[str] = set()
    named: dict[str, Any] = {}

    def walk(record: Mapping[str, Any], prefix: str) -> None:
        name = str(record.get("name", ""))
        if name in seen:
            return
        seen.add(name)
        named[name] = record
        for f in record.get("fields", []):
            path = prefix + str(f["name"])
            kind = f["type"]
            out.append(
                Field(path, _type_name(kind, named), "default" not in f, str(f.get("pii", "")), f.get("doc", ""))
            )
            for inner in _records_in(kind):
                array = isinstance(kind, dict) and kind.get("type") == "array"
                array = array or (
                    isinstance(kind, list) and any(isinstance(t, dict) and t.get("type") == "array" for t in kind)
                )
                walk(inner, path + ("[]." if array else "."))
        seen.discard(name)  # the same record type under another field is listed there too

    walk(schema, "")
    return out


def diff(before: SchemaVersion, after: SchemaVersion) -> list[Change]:
    old = {f.path: f for f in fields_of(before.schema)}
    new = {f.path: f for f in fields_of(after.schema)}
    changes = [Change(p, "retiré", old[p], None) for p in old if p not in new]
    changes += [Change(p, "ajouté", None, new[p]) for p in new if p not in old]
    changes += [Change(p, "modifié", old[p], new[p]) for p in old if p in new and old[p] != new[p]]
    return sorted(changes, key=lambda c: c.path)


@dataclass(frozen=True)
class Example:
    name: str
    valid: bool
    text: str


def examples(folder: Path | None, subject: str) -> list[Example]:
    """``contracts/examples/<subject>/{valid,invalid}/*``: what the contract accepts and refuses."""
    if folder is None:
        return []
    return [
        Example(path.name, kind == "valid", path.read_text(encoding="utf-8", errors="replace"))
        for kind in ("valid", "invalid")
        for path in sorted((folder / subject / kind).glob("*"))
        if path.is_file()
    ]
