"""The registry's state: the catalogue's versions, plus schemas registered at run time (in memory).

Subjects follow Confluent's TopicNameStrategy: a canonical contract is the value of its topic,
``canon.formation.Positionnement-value``; the bare name (``formation.Positionnement``) is accepted as an alias
of it. Ids are derived from the schema text (``schema_id_for``), so every replica assigns the same id to the
same schema without electing a leader, and an identical schema under two subjects has one id, as in Confluent's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import avro.errors
import avro.schema

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.compat import CompatibilityBreak, Level, check_new_version
from passerelle.runtime.registry import registry_subject


class RegistryError(Exception):
    """A Confluent-style error: HTTP status, error code and message (and headers, e.g. a 401's challenge)."""

    def __init__(self, status: int, code: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class RegistryStore:
    # By registry subject; each version's ``subject`` is that name.
    subjects: dict[str, list[SchemaVersion]] = field(default_factory=dict)
    by_id: dict[int, SchemaVersion] = field(default_factory=dict)
    level: Level = Level.FULL_TRANSITIVE
    subject_levels: dict[str, Level] = field(default_factory=dict)
    # Canonical subjects, so their bare names are aliases of their TopicNameStrategy names.
    canonical: frozenset[str] = frozenset()
    # Versions soft-deleted (hidden, their ids still resolve) and the repository's own (never deleted here).
    deleted: set[tuple[str, int]] = field(default_factory=set)
    from_repository: frozenset[tuple[str, int]] = frozenset()
    mode: str = "READWRITE"

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> RegistryStore:
        store = cls(canonical=frozenset(catalogue.subjects))
        for subject in catalogue:
            name = registry_subject(subject)
            store.subjects[name] = [replace(v, subject=name) for v in catalogue.versions(subject)]
            for v in store.subjects[name]:
                store.by_id.setdefault(v.schema_id, v)
        store.from_repository = frozenset((v.subject, v.version) for vs in store.subjects.values() for v in vs)
        return store

    def subject_name(self, requested: str) -> str:
        """The registry subject ``requested`` names: itself, or the TopicNameStrategy name of a canonical one."""
        return registry_subject(requested) if requested in self.canonical else requested

    def uses(self, schema_id: int) -> list[tuple[str, int]]:
        """Every (subject, version) registered with this id."""
        self.schema(schema_id)
        return [
            (v.subject, v.version) for versions in self.subjects.values() for v in versions if v.schema_id == schema_id
        ]

    def listed(self, include_deleted: bool = False) -> list[str]:
        return sorted(s for s in self.subjects if include_deleted or self.versions_or_none(s))

    def versions_or_none(self, subject: str, include_deleted: bool = False) -> list[SchemaVersion]:
        return [
            v for v in self.subjects.get(subject, []) if include_deleted or (subject, v.version) not in self.deleted
        ]

    def versions(self, requested: str, include_deleted: bool = False) -> list[SchemaVersion]:
        versions = self.versions_or_none(self.subject_name(requested), include_deleted)
        if not versions:
            raise RegistryError(404, 40401, f"Subject '{requested}' not found. (sujet inconnu)")
        return versions

    def delete(self, requested: str, version: str | None, permanent: bool) -> list[int]:
        """Soft-delete a version (or every version of a subject); ``permanent`` removes soft-deleted ones."""
        subject = self.subject_name(requested)
        chosen = (
            self.versions(requested, include_deleted=permanent)
            if version is None
            else [self.version(requested, version, include_deleted=permanent)]
        )
        kept = [v for v in chosen if (subject, v.version) in self.from_repository]
        if kept:
            where = f"{subject} v{kept[0].version}"
            raise RegistryError(
                422, 42208, f"{where} est un contrat du dépôt (schemas/avro) : il ne se supprime pas ici"
            )
        if permanent:
            alive = [v for v in chosen if (subject, v.version) not in self.deleted]
            if alive:
                code = 40405 if version is None else 40407
                first = f"Subject '{subject}' Version {alive[0].version} was not deleted first"
                raise RegistryError(404, code, f"{first} before being permanently deleted (suppression douce d'abord)")
            gone = {v.version for v in chosen}
            self.subjects[subject] = [v for v in self.subjects[subject] if v.version not in gone]
            self.deleted -= {(subject, n) for n in gone}
            for v in chosen:  # the id stays resolvable while another subject or version still uses it
                others = [o for vs in self.subjects.values() for o in vs if o.schema_id == v.schema_id]
                if others:
                    self.by_id[v.schema_id] = others[0]
                else:
                    self.by_id.pop(v.schema_id, None)
        else:
            self.deleted |= {(subject, v.version) for v in chosen}
        return [v.version for v in chosen]

    def version(self, requested: str, version: str, include_deleted: bool = False) -> SchemaVersion:
        versions = self.versions(requested, include_deleted)
        if version in ("latest", "-1"):
            return versions[-1]
        if not version.isdigit() or int(version) < 1:
            raise RegistryError(422, 42202, f"The specified version '{version}' is not a valid version id.")
        for v in versions:
            if v.version == int(version):
                return v
        raise RegistryError(404, 40402, f"Version {version} not found. (version inconnue)")

    def schema(self, schema_id: int) -> SchemaVersion:
        if schema_id not in self.by_id:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found (identifiant inconnu)")
        return self.by_id[schema_id]

    def level_of(self, requested: str) -> Level:
        return self.subject_levels.get(self.subject_name(requested), self.level)

    def lookup(self, requested: str, text: str) -> SchemaVersion:
        candidate = parse_schema(text)
        for v in self.versions(requested):
            if v.text == _normalised(candidate):
                return v
        raise RegistryError(404, 40403, "Schema not found (schéma absent de ce sujet)")

    def register(self, requested: str, text: str) -> SchemaVersion:
        if self.mode != "READWRITE":
            raise RegistryError(422, 42205, f"Subject {requested} is in read-only mode (registre en {self.mode})")
        candidate = parse_schema(text)
        subject = self.subject_name(requested)
        every = self.subjects.get(subject, [])
        existing = self.versions_or_none(subject)
        for v in existing:
            if v.text == _normalised(candidate):
                return v
        breaks = self.check(requested, text, existing)
        if breaks:
            raise RegistryError(
                409,
                409,
                "Schema being registered is incompatible with an earlier schema: "
                + "; ".join(b.describe() for b in breaks),
            )
        version = SchemaVersion(subject, (every[-1].version if every else 0) + 1, candidate)
        self.subjects.setdefault(subject, []).append(version)
        self.by_id.setdefault(version.schema_id, version)
        return version

    def check(self, requested: str, text: str, against: list[SchemaVersion] | None = None) -> list[CompatibilityBreak]:
        candidate = parse_schema(text)
        subject = self.subject_name(requested)
        existing = self.subjects.get(subject, []) if against is None else against
        apache = avro.schema.parse(_normalised(candidate))
        return check_new_version(subject, apache, existing, self.level_of(requested))


def parse_schema(text: str) -> Any:
    try:
        parsed = json.loads(text)
        avro.schema.parse(json.dumps(parsed))
    except (ValueError, avro.errors.SchemaParseException) as exc:
        raise RegistryError(422, 42201, f"Invalid schema: {exc} (schéma Avro invalide)") from None
    if not isinstance(parsed, dict):
        raise RegistryError(422, 42201, "Invalid schema: a record schema is expected (schéma Avro invalide)")
    return parsed


def _normalised(schema: Any) -> str:
    return json.dumps(schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
