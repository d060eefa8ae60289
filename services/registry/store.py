"""The registry's state, rebuilt from its records (``records.py``) and changed only by applying them.

Every change is planned first (``plan_*``: what to answer, which records to write), then written to the log and
applied when read back, so every replica reading the same log holds the same state.

Subjects follow Confluent's TopicNameStrategy: a canonical contract is the value of its topic,
``canon.formation.Positionnement-value``; the bare name (``formation.Positionnement``) is accepted as an alias
of it. The repository's contracts are always there, with the ids derived from their text (``schema_id_for``)
that services use when no registry is configured. A schema registered at run time takes the id the same text
already has in the registry, else its derived id (the next free one on a collision), and keeps it in the log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import avro.errors
import avro.schema
import structlog

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion, normalised_text, schema_id_for
from passerelle.core.contracts.compat import CompatibilityBreak, Level, check_new_version
from passerelle.runtime.registry import registry_subject
from services.registry.records import KeyType, Record, config_record, mode_record, schema_record, schema_tombstone

log = structlog.get_logger("passerelle.registry")

MODES = ("READWRITE", "READONLY")


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
    # By registry subject, in version order; each version's ``subject`` is that name.
    subjects: dict[str, list[SchemaVersion]] = field(default_factory=dict)
    by_id: dict[int, SchemaVersion] = field(default_factory=dict)
    level: Level = Level.FULL_TRANSITIVE
    subject_levels: dict[str, Level] = field(default_factory=dict)
    # Canonical subjects, so their bare names are aliases of their TopicNameStrategy names.
    canonical: frozenset[str] = frozenset()
    # Versions soft-deleted (hidden, their ids still resolve) and the repository's own (never deleted here).
    deleted: set[tuple[str, int]] = field(default_factory=set)
    from_repository: frozenset[tuple[str, int]] = frozenset()
    # Versions the log holds: the repository's others are written to it at start.
    logged: set[tuple[str, int]] = field(default_factory=set)
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

    # Reading.

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
        return sorted(s for s in self.subjects if self.versions_or_none(s, include_deleted))

    def versions_or_none(self, subject: str, include_deleted: bool = False) -> list[SchemaVersion]:
        return [
            v for v in self.subjects.get(subject, []) if include_deleted or (subject, v.version) not in self.deleted
        ]

    def versions(self, requested: str, include_deleted: bool = False) -> list[SchemaVersion]:
        versions = self.versions_or_none(self.subject_name(requested), include_deleted)
        if not versions:
            raise RegistryError(404, 40401, f"Subject '{requested}' not found. (sujet inconnu)")
        return versions

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
        candidate = normalised_text(parse_schema(text))
        for v in self.versions(requested):
            if v.text == candidate:
                return v
        raise RegistryError(404, 40403, "Schema not found (schéma absent de ce sujet)")

    def check(self, requested: str, text: str, against: list[SchemaVersion] | None = None) -> list[CompatibilityBreak]:
        candidate = parse_schema(text)
        subject = self.subject_name(requested)
        existing = self.subjects.get(subject, []) if against is None else against
        apache = avro.schema.parse(normalised_text(candidate))
        return check_new_version(subject, apache, existing, self.level_of(requested))

    # Planning: what to answer and what to write; nothing changes until the records are applied.

    def plan_register(self, requested: str, text: str) -> tuple[int, list[Record]]:
        if self.mode != "READWRITE":
            raise RegistryError(422, 42205, f"Subject {requested} is in read-only mode (registre en {self.mode})")
        candidate = parse_schema(text)
        normalised = normalised_text(candidate)
        subject = self.subject_name(requested)
        existing = self.versions_or_none(subject)
        for v in existing:
            if v.text == normalised:
                return v.schema_id, []
        breaks = self.check(requested, text, existing)
        if breaks:
            raise RegistryError(
                409,
                409,
                "Schema being registered is incompatible with an earlier schema: "
                + "; ".join(b.describe() for b in breaks),
            )
        every = self.subjects.get(subject, [])
        version = (every[-1].version if every else 0) + 1
        schema_id = self._id_for(candidate, normalised)
        return schema_id, [schema_record(subject, version, schema_id, normalised)]

    def _id_for(self, candidate: Any, normalised: str) -> int:
        """The id this text already has here, else its derived id, moved on past ids other texts hold."""
        for known in self.by_id.values():
            if known.text == normalised:
                return known.schema_id
        schema_id = schema_id_for(candidate)
        while schema_id in self.by_id:
            schema_id = schema_id % 0x7FFFFFFF + 1
        return schema_id

    def plan_delete(self, requested: str, version: str | None, permanent: bool) -> tuple[list[int], list[Record]]:
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
            return [v.version for v in chosen], [schema_tombstone(subject, v.version) for v in chosen]
        records = [schema_record(subject, v.version, v.schema_id, v.text, deleted=True) for v in chosen]
        return [v.version for v in chosen], records

    def plan_mode(self, mode: str) -> tuple[str, list[Record]]:
        if mode not in MODES:
            raise RegistryError(422, 42204, f"Invalid mode: {mode} (READWRITE ou READONLY)")
        return mode, [mode_record(mode)]

    def plan_level(self, requested: str | None, level: Level) -> tuple[Level, list[Record]]:
        subject = None if requested is None else self.subject_name(requested)
        return level, [config_record(subject, level.value)]

    def plan_repository(self) -> list[Record]:
        """The repository's versions the log does not hold yet, so another registry reading it finds them."""
        return [
            schema_record(v.subject, v.version, v.schema_id, v.text)
            for versions in self.subjects.values()
            for v in versions
            if (v.subject, v.version) in self.from_repository and (v.subject, v.version) not in self.logged
        ]

    # Applying what the log says, in its order: the only way the state changes.

    def apply(self, record: Record) -> None:
        value, subject = record.value, record.subject
        if record.keytype is KeyType.SCHEMA:
            self._apply_schema(record)
        elif record.keytype is KeyType.CONFIG and value is None:
            if subject is not None:
                self.subject_levels.pop(subject, None)
        elif record.keytype is KeyType.CONFIG and value is not None:
            level = Level(str(value["compatibilityLevel"]).upper())
            if subject is None:
                self.level = level
            else:
                self.subject_levels[subject] = level
        elif record.keytype is KeyType.MODE and value is not None and subject is None:
            self.mode = str(value["mode"])
        elif record.keytype is KeyType.DELETE_SUBJECT and value is not None:
            named, last = str(value["subject"]), int(value["version"])
            for v in self.subjects.get(named, []):
                if v.version <= last and (named, v.version) not in self.from_repository:
                    self.deleted.add((named, v.version))
        # NOOP markers and modes per subject (which this registry does not keep) change nothing.

    def _apply_schema(self, record: Record) -> None:
        subject, version = str(record.key["subject"]), int(record.key["version"])
        if (subject, version) in self.from_repository:
            self._apply_repository(subject, version, record.value)
            return
        if record.value is None:
            self._forget(subject, version)
            return
        value = record.value
        schema_id = int(value["id"])
        entry = SchemaVersion(subject, version, json.loads(value["schema"]), registered_id=schema_id)
        held = self._held(subject, version)
        if held is not None and (held.schema_id, held.text) != (entry.schema_id, entry.text):
            # Two writers gave one version number to two schemas (a broker without transactions): the first stays.
            log.warning("registre.version_en_conflit", sujet=subject, version=version, garde=held.schema_id)
            return
        others = [v for v in self.subjects.get(subject, []) if v.version != version]
        self.subjects[subject] = sorted([*others, entry], key=lambda v: v.version)
        self.by_id.setdefault(schema_id, entry)
        self.logged.add((subject, version))
        if value.get("deleted"):
            self.deleted.add((subject, version))
        else:
            self.deleted.discard((subject, version))

    def _apply_repository(self, subject: str, version: int, value: Mapping[str, Any] | None) -> None:
        """The repository's text always stands; the log's id for it is taken (Karapace numbers its own), and its
        derived id still resolves, for records framed by a service that ran without a registry."""
        self.logged.add((subject, version))
        known = self._held(subject, version)
        assert known is not None
        if value is None or value.get("deleted") or normalised_text(json.loads(value["schema"])) != known.text:
            log.warning("registre.contrat_du_depot_conserve", sujet=subject, version=version)
            return
        if int(value["id"]) != known.schema_id:
            entry = replace(known, registered_id=int(value["id"]))
            self.subjects[subject] = [entry if v is known else v for v in self.subjects[subject]]
            self.by_id[entry.schema_id] = entry

    def _held(self, subject: str, version: int) -> SchemaVersion | None:
        return next((v for v in self.subjects.get(subject, []) if v.version == version), None)

    def lost(self, records: list[Record]) -> list[Record]:
        """Of the records a writer wrote, those another writer's earlier ones overruled, as the state holds them
        now: written again, they keep the log's last word on each key the same as its first."""
        kept: list[Record] = []
        for record in records:
            if record.keytype is not KeyType.SCHEMA or record.value is None:
                continue
            subject, version = str(record.key["subject"]), int(record.key["version"])
            held = self._held(subject, version)
            if held is not None and held.schema_id != record.value["id"]:
                deleted = (subject, version) in self.deleted
                kept.append(schema_record(subject, version, held.schema_id, held.text, deleted))
        return kept

    def _forget(self, subject: str, version: int) -> None:
        gone = [v for v in self.subjects.get(subject, []) if v.version == version]
        self.subjects[subject] = [v for v in self.subjects.get(subject, []) if v.version != version]
        if not self.subjects[subject]:
            del self.subjects[subject]
        self.deleted.discard((subject, version))
        self.logged.discard((subject, version))
        for v in gone:  # the id stays resolvable while another subject or version still uses it
            others = [o for vs in self.subjects.values() for o in vs if o.schema_id == v.schema_id]
            if others:
                self.by_id[v.schema_id] = others[0]
            else:
                self.by_id.pop(v.schema_id, None)


def parse_schema(text: str) -> Any:
    try:
        parsed = json.loads(text)
        avro.schema.parse(json.dumps(parsed))
    except (ValueError, avro.errors.SchemaParseException) as exc:
        raise RegistryError(422, 42201, f"Invalid schema: {exc} (schéma Avro invalide)") from None
    if not isinstance(parsed, dict):
        raise RegistryError(422, 42201, "Invalid schema: a record schema is expected (schéma Avro invalide)")
    return parsed
