"""The catalogue of canonical contracts, read from ``schemas/avro/<subject>/<version>.avsc``.

A subject is an event type (``formation.OffreSession``); every published
version is kept. A schema's id is the one the contract registry assigned once
a service has looked it up (``Catalogue.with_ids``); before that, and without a
registry, it is derived from the schema text, which is also how Passerelle's
own registry assigns ids, so its replicas agree without coordination.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import avro.schema
import fastavro

from passerelle.core.contracts.errors import UnknownSchemaId, UnknownSubject, UnknownVersion
from passerelle.core.contracts.readers import Reader, compile_reader
from passerelle.core.contracts.writers import Writer, compile_writer

AvroJson = dict[str, Any]


def normalised_text(schema: Any) -> str:
    """The schema as compact JSON with sorted keys: the form we fingerprint and serve."""
    return json.dumps(schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def schema_id_for(schema: Any) -> int:
    """A positive 31-bit id from the SHA-256 of the normalised schema (Confluent ids are int32)."""
    digest = hashlib.sha256(normalised_text(schema).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1


@dataclass(frozen=True)
class SchemaVersion:
    subject: str
    version: int
    schema: AvroJson
    # The registry's id for this schema, once looked up; None: the id derived from the text.
    registered_id: int | None = None

    @cached_property
    def schema_id(self) -> int:
        return self.registered_id if self.registered_id is not None else schema_id_for(self.schema)

    @cached_property
    def text(self) -> str:
        return normalised_text(self.schema)

    @cached_property
    def parsed(self) -> Any:
        """The fastavro-parsed schema (for the codec)."""
        return fastavro.parse_schema(self.schema)

    @cached_property
    def writer(self) -> Writer | None:
        """The writer compiled from this schema (None: fastavro writes it alone)."""
        return compile_writer(self.parsed)

    @cached_property
    def reader(self) -> Reader | None:
        """The reader compiled from this schema, for records written with it (None: fastavro reads them alone)."""
        return compile_reader(self.parsed)

    @cached_property
    def apache(self) -> avro.schema.Schema:
        """The Apache avro schema (for the compatibility checker)."""
        return avro.schema.parse(self.text)

    @property
    def full_name(self) -> str:
        return f"{self.schema['namespace']}.{self.schema['name']}"


@dataclass(frozen=True)
class Catalogue:
    """Every version of every subject, indexed by subject and by id."""

    subjects: Mapping[str, tuple[SchemaVersion, ...]]
    by_id: Mapping[int, SchemaVersion] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Catalogue:
        subjects: dict[str, tuple[SchemaVersion, ...]] = {}
        for subject_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            versions = [
                SchemaVersion(subject_dir.name, int(f.stem), json.loads(f.read_text(encoding="utf-8")))
                for f in subject_dir.glob("*.avsc")
            ]
            versions.sort(key=lambda v: v.version)
            if versions:
                subjects[subject_dir.name] = tuple(versions)
        return cls.of(subjects)

    @classmethod
    def of(cls, subjects: Mapping[str, tuple[SchemaVersion, ...]]) -> Catalogue:
        by_id = {v.schema_id: v for versions in subjects.values() for v in versions}
        return cls(subjects=dict(subjects), by_id=by_id)

    def with_ids(self, ids: Mapping[tuple[str, int], int]) -> Catalogue:
        """The same versions under the ids a registry gave them (``(subject, version) → id``)."""
        return Catalogue.of(
            {
                subject: tuple(replace(v, registered_id=ids.get((subject, v.version))) for v in versions)
                for subject, versions in self.subjects.items()
            }
        )

    def versions(self, subject: str) -> tuple[SchemaVersion, ...]:
        try:
            return self.subjects[subject]
        except KeyError:
            raise UnknownSubject(subject) from None

    def latest(self, subject: str) -> SchemaVersion:
        return self.versions(subject)[-1]

    def get(self, subject: str, version: int | str = "latest") -> SchemaVersion:
        found = self._asked.get((subject, str(version)))
        return found if found is not None else self._walk(subject, version)

    @cached_property
    def _asked(self) -> dict[tuple[str, str], SchemaVersion]:
        """(subject, version as text, or "latest" or "-1") → that version: one lookup for every record's ``get``."""
        asked = {(subject, str(v.version)): v for subject, versions in self.subjects.items() for v in versions}
        for subject, versions in self.subjects.items():
            if versions:
                asked[(subject, "latest")] = asked[(subject, "-1")] = versions[-1]
        return asked

    def _walk(self, subject: str, version: int | str) -> SchemaVersion:
        """What ``get`` finds for any other spelling of a version, or the error that names what is unknown."""
        if version in ("latest", -1):
            return self.latest(subject)
        for v in self.versions(subject):
            if str(v.version) == str(version):
                return v
        raise UnknownVersion(subject, version)

    def by_schema_id(self, schema_id: int) -> SchemaVersion:
        try:
            return self.by_id[schema_id]
        except KeyError:
            raise UnknownSchemaId(schema_id) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.subjects)

    def __contains__(self, subject: object) -> bool:
        return subject in self.subjects
