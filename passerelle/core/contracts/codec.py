"""Avro bodies in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, payload.

Any Confluent-compatible client can read what we write and the reverse: the
header is the only framing, the body is plain schemaless Avro.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import fastavro
from fastavro.validation import ValidationError as FastavroValidationError
from fastavro.validation import validate as fastavro_validate

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.errors import DecodeError, EncodeError, UnknownSchemaId, WireFormatError
from passerelle.core.contracts.readers import Reader
from passerelle.core.contracts.readers import Refused as ReaderRefused
from passerelle.core.contracts.writers import Refused

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")
HEADER_SIZE = HEADER.size  # 5


class Decoded(NamedTuple):
    subject: str
    version: int
    schema_id: int
    record: dict[str, Any]


def split_header(data: bytes) -> tuple[int, memoryview]:
    """Return (schema id, Avro body) or raise WireFormatError naming what is wrong."""
    if len(data) < HEADER_SIZE:
        raise WireFormatError(f"message trop court pour l'en-tête Confluent : {len(data)} octet(s), 5 attendus")
    magic, schema_id = HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise WireFormatError(f"octet magique {magic} au lieu de 0 : ce n'est pas le format Confluent")
    return schema_id, memoryview(data)[HEADER_SIZE:]


class AvroCodec:
    """Encodes and decodes canonical records against the catalogue.

    ``fetch`` finds a schema id the catalogue does not hold (a version registered in the contract registry
    by someone else, with any compatible schema): the record is read with that writer schema and resolved
    to the catalogue's latest version of its subject, the shape the services know.
    """

    def __init__(self, catalogue: Catalogue, fetch: Callable[[int], SchemaVersion] | None = None) -> None:
        self.catalogue = catalogue
        self.fetch = fetch
        self._fetched: dict[int, SchemaVersion] = {}
        # Schema id → its wire header, packed once.
        self._headers: dict[int, bytes] = {}

    def bind(self, ids: Mapping[tuple[str, int], int]) -> None:
        """Frame records with the registry's ids from now on (called once at start, before any record)."""
        self.catalogue = self.catalogue.with_ids(ids)

    def writer(self, schema_id: int) -> SchemaVersion:
        try:
            return self.catalogue.by_schema_id(schema_id)
        except UnknownSchemaId:
            if self.fetch is None:
                raise
        found = self._fetched.get(schema_id)
        if found is None:
            found = self._fetched[schema_id] = self.fetch(schema_id)  # raises UnknownSchemaId if unknown there too
        return found

    def encode(self, subject: str, record: dict[str, Any], version: int | str = "latest") -> bytes:
        schema = self.catalogue.get(subject, version)
        header = self._headers.get(schema.schema_id)
        if header is None:
            header = self._headers[schema.schema_id] = HEADER.pack(MAGIC_BYTE, schema.schema_id)
        if schema.writer is not None:
            try:
                return schema.writer(record, header)
            except (Refused, KeyError, TypeError, AttributeError, ValueError, OverflowError):
                pass  # a value the compiled writer is not sure of: fastavro writes or refuses it below
        out = io.BytesIO()
        out.write(header)
        try:
            fastavro.schemaless_writer(out, schema.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(subject, schema.version, _explain(schema, record, exc)) from exc
        return out.getvalue()

    def decode(self, data: bytes, reader_version: int | str | None = None) -> Decoded:
        """Decode with the writer's schema; with ``reader_version``, resolve to that version."""
        schema_id, body = split_header(data)
        writer = self.writer(schema_id)
        if reader_version:
            reader = self.catalogue.get(writer.subject, reader_version)
        elif schema_id in self._fetched and writer.subject in self.catalogue:
            reader = self.catalogue.latest(writer.subject)
        else:
            reader = writer
        if reader is writer and writer.reader is not None:
            compiled = _compiled_read(writer.reader, data)
            if compiled is not None:
                return Decoded(writer.subject, writer.version, schema_id, compiled)
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(stream, writer.parsed, reader.parsed if reader is not writer else None)
        except (EOFError, ValueError, TypeError, IndexError, OverflowError, struct.error) as exc:
            raise DecodeError(writer.subject, schema_id, _reason(exc)) from exc
        if stream.tell() != len(body):
            raise DecodeError(
                writer.subject, schema_id, f"{len(body) - stream.tell()} octet(s) en trop après l'enregistrement"
            )
        return Decoded(writer.subject, reader.version, schema_id, record)  # type: ignore[arg-type]


def _compiled_read(read: Reader, data: bytes) -> dict[str, Any] | None:
    """The record, or None for bytes the compiled reader is not sure of: fastavro then reads or refuses them."""
    try:
        record, end = read(bytes(data), HEADER_SIZE)
    except (ReaderRefused, IndexError, struct.error, ValueError, OverflowError):
        return None
    return record if end == len(data) else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "message tronqué"
    return f"{type(exc).__name__}: {exc}"


def _explain(schema: SchemaVersion, record: dict[str, Any], exc: BaseException) -> str:
    """Re-run fastavro's validator to name the field; only on the failure path, so it costs nothing."""
    try:
        fastavro_validate(record, schema.parsed, raise_errors=True)
    except FastavroValidationError as verr:
        return "; ".join(str(e) for e in verr.errors)
    except Exception:  # noqa: BLE001 - the validator itself may choke on the same input
        return _reason(exc)
    return _reason(exc)


__all__ = ["HEADER_SIZE", "AvroCodec", "Decoded", "UnknownSchemaId", "split_header"]
