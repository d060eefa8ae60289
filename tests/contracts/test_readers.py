"""The compiled Avro readers: the same records as fastavro from every contract's bytes, and fastavro's answer
whenever the bytes are anything but a record written with the contract."""

from __future__ import annotations

import io
import math
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.codec import HEADER, HEADER_SIZE, AvroCodec
from passerelle.core.contracts.errors import DecodeError
from passerelle.core.contracts.readers import compile_reader, read_long
from passerelle.settings import PROJECT_ROOT
from tests.contracts.strategies import records

CATALOGUE = Catalogue.load(PROJECT_ROOT / "schemas" / "avro")
VERSIONS = [v for s in CATALOGUE for v in CATALOGUE.versions(s)]
IDS = [f"{v.subject}-v{v.version}" for v in VERSIONS]
# Bytes that change a varint's meaning (end, continuation, sign) or a union's or enum's branch.
SWAPS = (0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xFF)


def _fastavro(version: SchemaVersion, data: bytes) -> Any:
    """What fastavro alone makes of a framed message: the record, or None when it refuses it."""
    body = io.BytesIO(data[HEADER_SIZE:])
    try:
        record = fastavro.schemaless_reader(body, version.parsed, None)
    except Exception:  # noqa: BLE001 - fastavro refuses in several exception types; refusal is what counts
        return None
    return record if body.tell() == len(data) - HEADER_SIZE else None


def _ours(version: SchemaVersion, data: bytes) -> Any:
    try:
        return AvroCodec(CATALOGUE).decode(data).record
    except DecodeError:
        return None


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN included (a double's NaN is not equal to itself)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _framed(version: SchemaVersion, record: Any) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.parsed, record)
    return HEADER.pack(0, version.schema_id) + body.getvalue()


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_every_contract_compiles(version: SchemaVersion) -> None:
    assert version.reader is not None


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_records_are_fastavros(version: SchemaVersion, data: st.DataObject) -> None:
    framed = _framed(version, data.draw(records(version.schema)))
    assert version.reader is not None
    record, end = version.reader(framed, HEADER_SIZE)
    assert end == len(framed)
    assert _same(record, _fastavro(version, framed))


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
@settings(max_examples=4, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_cut_and_every_changed_byte_gets_fastavros_answer(version: SchemaVersion, data: st.DataObject) -> None:
    framed = _framed(version, data.draw(records(version.schema)))
    damaged = [framed[:size] for size in range(HEADER_SIZE, len(framed))]
    damaged += [framed + b"\x00"]
    damaged += [framed[:i] + bytes([b]) + framed[i + 1 :] for i in range(HEADER_SIZE, len(framed)) for b in SWAPS]
    for bytes_ in damaged:
        assert _same(_ours(version, bytes_), _fastavro(version, bytes_)), bytes_


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=200))
def test_any_bytes_get_fastavros_answer(version: SchemaVersion, body: bytes) -> None:
    framed = HEADER.pack(0, version.schema_id) + body
    assert _same(_ours(version, framed), _fastavro(version, framed))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_read_long_reads_avros_zigzag_varint(number: int) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "L", "fields": [{"name": "n", "type": "long"}]})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, {"n": number})
    assert read_long(body.getvalue(), 0) == (number, len(body.getvalue()))


def test_a_recursive_record_stays_with_fastavro() -> None:
    linked = {
        "type": "record",
        "name": "Maillon",
        "fields": [{"name": "suivant", "type": ["null", "Maillon"], "default": None}],
    }
    assert compile_reader(fastavro.parse_schema(linked)) is None


@pytest.mark.parametrize(
    "field_type",
    [{"type": "map", "values": "string"}, ["null", "string", "int"], {"type": "fixed", "name": "F", "size": 4}],
    ids=["map", "three-branch union", "fixed"],
)
def test_a_feature_the_compiler_does_not_read_stays_with_fastavro(field_type: Any) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "R", "fields": [{"name": "x", "type": field_type}]})
    assert compile_reader(schema) is None
