"""House rules every contract must follow, beyond what Avro itself checks.

They keep the catalogue usable by integrators: a French doc on every record
and field, a default symbol on every enum (so adding a symbol stays
compatible), folder names matching record names, versions numbered 1..n,
unique schema ids, and only known ``pii``/``format`` attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.formats import FORMATS

NAMESPACE_ROOT = "fr.passerelle"
PII_CATEGORIES = ("identite", "contact", "sensible")
EXTRA_FORMATS = ("niveau_2019",)


@dataclass(frozen=True)
class Finding:
    subject: str
    version: int
    path: str
    rule: str
    message: str

    def describe(self) -> str:
        return f"{self.subject} v{self.version} {self.path} : {self.message} [{self.rule}]"


def lint_catalogue(catalogue: Catalogue) -> list[Finding]:
    findings: list[Finding] = []
    seen_ids: dict[int, SchemaVersion] = {}
    for subject in catalogue:
        versions = catalogue.versions(subject)
        numbers = [v.version for v in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            findings.append(Finding(subject, numbers[-1], "/", "versions", f"versions non contiguës : {numbers}"))
        for version in versions:
            findings += _lint_version(version)
            other = seen_ids.setdefault(version.schema_id, version)
            if other is not version:
                findings.append(
                    Finding(
                        subject, version.version, "/", "id", f"même identifiant que {other.subject} v{other.version}"
                    )
                )
    return findings


def _lint_version(version: SchemaVersion) -> list[Finding]:
    schema = version.schema
    out: list[Finding] = []
    domain, _, event = version.subject.partition(".")
    expected_ns = f"{NAMESPACE_ROOT}.{domain}"
    if schema.get("type") != "record" or schema.get("name") != event or schema.get("namespace") != expected_ns:
        out.append(
            Finding(
                version.subject,
                version.version,
                "/",
                "nom",
                f"le sujet {version.subject} doit contenir le record {expected_ns}.{event}",
            )
        )
    for path, node, field in _walk(schema, ""):
        where = path or "/"
        if node is not None and node.get("type") in ("record", "enum") and not node.get("doc"):
            missing = f"{node['type']} {node['name']} sans doc"
            out.append(Finding(version.subject, version.version, where, "doc", missing))
        if node is not None and node.get("type") == "enum" and node.get("default") not in node.get("symbols", []):
            out.append(
                Finding(
                    version.subject,
                    version.version,
                    where,
                    "enum_defaut",
                    f"énumération {node['name']} sans symbole par défaut",
                )
            )
        if field is not None:
            if not field.get("doc"):
                out.append(Finding(version.subject, version.version, where, "doc", "champ sans doc"))
            pii = field.get("pii")
            if pii is not None and pii not in PII_CATEGORIES:
                out.append(Finding(version.subject, version.version, where, "pii", f"catégorie pii inconnue : {pii}"))
            fmt = field.get("format")
            if fmt is not None and fmt not in FORMATS and fmt not in EXTRA_FORMATS:
                out.append(Finding(version.subject, version.version, where, "format", f"format inconnu : {fmt}"))
    return out


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """Yield (path, named type or None, field or None) for every record, enum and field."""
    if isinstance(node, list):
        for branch in node:
            yield from _walk(branch, path)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "record":
        yield path, node, None
        for field in node.get("fields", []):
            field_path = f"{path}.{field['name']}" if path else field["name"]
            yield field_path, None, field
            yield from _walk(field["type"], field_path)
    elif kind == "enum":
        yield path, node, None
    elif kind == "array":
        yield from _walk(node.get("items"), path + "[]")
    elif kind == "map":
        yield from _walk(node.get("values"), path + "{}")
    elif isinstance(kind, dict | list):
        yield from _walk(kind, path)
