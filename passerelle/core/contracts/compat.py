"""Compatibility of contract versions, checked with the Apache ``avro`` package's checker.

FULL_TRANSITIVE within a subject means every version can read data written
with every other one, both ways. A break is reported with the subject, the two
versions, the fields involved (as a dotted path) and the rule broken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion


class Level(str, Enum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))


RULES_FR: dict[str, str] = {
    "reader_field_missing_default_value": (
        "un champ présent chez le lecteur, absent chez l'écrivain, n'a pas de valeur par défaut"
    ),
    "type_mismatch": "le type d'un champ a changé de façon incompatible",
    "missing_enum_symbols": "un symbole d'énumération a disparu et le lecteur n'a pas de symbole par défaut",
    "missing_union_branch": "une branche d'union a disparu",
    "name_mismatch": "le nom d'un type nommé a changé sans alias",
    "fixed_size_mismatch": "la taille d'un type fixed a changé",
}


@dataclass(frozen=True)
class CompatibilityBreak:
    subject: str
    reader_version: int | str
    writer_version: int | str
    fields: tuple[str, ...]
    rules: tuple[str, ...]
    details: tuple[str, ...]

    def describe(self) -> str:
        rules = "; ".join(f"{r} ({RULES_FR.get(r, r)})" for r in self.rules)
        return (
            f"{self.subject} : la version {self.reader_version} ne peut pas lire des données écrites en version "
            f"{self.writer_version} — champ(s) {', '.join(self.fields) or '/'} — règle : {rules}"
            + (f" — détail : {', '.join(self.details)}" if self.details else "")
        )


def check_pair(
    subject: str,
    reader: SchemaVersion | Any,
    writer: SchemaVersion | Any,
    reader_version: int | str,
    writer_version: int | str,
) -> CompatibilityBreak | None:
    reader_schema = reader.apache if isinstance(reader, SchemaVersion) else reader
    writer_schema = writer.apache if isinstance(writer, SchemaVersion) else writer
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader_schema, writer_schema)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    reader_json = reader.schema if isinstance(reader, SchemaVersion) else reader_schema.to_json()
    return CompatibilityBreak(
        subject=subject,
        reader_version=reader_version,
        writer_version=writer_version,
        fields=tuple(sorted({field_path(reader_json, loc) for loc in result.locations} - {"/"})),
        rules=tuple(sorted({i.value for i in result.incompatibilities})),
        details=tuple(sorted(result.messages)),
    )


def check_new_version(
    subject: str,
    candidate: avro.schema.Schema | SchemaVersion,
    existing: Sequence[SchemaVersion],
    level: Level,
    candidate_version: int | str = "nouvelle",
) -> list[CompatibilityBreak]:
    """Breaks a candidate version would introduce against the existing ones, under ``level``."""
    if level is Level.NONE or not existing:
        return []
    against = existing if level.transitive else existing[-1:]
    breaks: list[CompatibilityBreak] = []
    for old in against:
        if level.backward and (b := check_pair(subject, candidate, old, candidate_version, old.version)):
            breaks.append(b)
        if level.forward and (b := check_pair(subject, old, candidate, old.version, candidate_version)):
            breaks.append(b)
    return breaks


def check_catalogue(catalogue: Catalogue, level: Level = Level.FULL_TRANSITIVE) -> list[CompatibilityBreak]:
    """Every break in every subject's history, each version checked against those before it."""
    breaks: list[CompatibilityBreak] = []
    for subject in catalogue:
        versions = catalogue.versions(subject)
        for i, version in enumerate(versions[1:], start=1):
            breaks += check_new_version(subject, version, versions[:i], level, version.version)
    return breaks


def field_path(schema: Any, location: str) -> str:
    """Turn the checker's JSON-pointer-like location (``/fields/1/type/fields/0``) into ``jeune.nom``."""
    node: Any = schema
    names: list[str] = []
    parts = [p for p in location.split("/") if p]
    i = 0
    while i < len(parts):
        part = parts[i]
        if part == "fields" and i + 1 < len(parts) and isinstance(node, dict):
            node = node.get("fields", [])[int(parts[i + 1])]
            names.append(node["name"])
            i += 2
            continue
        if part == "type" and isinstance(node, dict):
            node = node.get("type")
        elif part in ("items", "values") and isinstance(node, dict):
            node = node.get(part)
        elif part.isdigit() and isinstance(node, list):
            node = node[int(part)]
        elif part == "symbols":
            names.append("(symboles)")
        i += 1
        if isinstance(node, list):  # a union: follow its record branch if there is one
            records = [b for b in node if isinstance(b, dict) and b.get("type") == "record"]
            if records and (i >= len(parts) or not parts[i].isdigit()):
                node = records[0]
    return ".".join(names) or "/"
