"""The compiled Avro writers: the same bytes as fastavro for every contract, and fastavro's answer whenever a value
is anything but what the contract's types hold."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.codec import HEADER_SIZE, AvroCodec
from passerelle.core.contracts.errors import EncodeError
from passerelle.core.contracts.writers import compile_writer, long_bytes
from passerelle.settings import PROJECT_ROOT
from tests.contracts.strategies import ANY_VALUE, DROP, EDGES, changed, paths, records

CATALOGUE = Catalogue.load(PROJECT_ROOT / "schemas" / "avro")
VERSIONS = [v for s in CATALOGUE for v in CATALOGUE.versions(s)]
IDS = [f"{v.subject}-v{v.version}" for v in VERSIONS]
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fastavro(version: SchemaVersion, record: Any) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.parsed, record)
    return body.getvalue()


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_every_contract_compiles(version: SchemaVersion) -> None:
    # A contract that stopped compiling would still work, through fastavro, but several times slower.
    assert version.writer is not None


def _same_answer(version: SchemaVersion, record: dict[str, Any]) -> None:
    expected = _outcome(lambda: _fastavro(version, record))
    try:
        ours = AvroCodec(CATALOGUE).encode(version.subject, record, version.version)
    except EncodeError:
        assert expected is None, f"fastavro writes {record!r}"
    else:
        assert expected is not None, f"fastavro refuses {record!r}"
        assert ours[HEADER_SIZE:] == expected, record


def _outcome(write: Callable[[], bytes]) -> bytes | None:
    try:
        return write()
    except Exception:  # noqa: BLE001 - fastavro refuses in several exception types; refusal is what counts
        return None


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_compiled_bytes_are_fastavros(version: SchemaVersion, data: st.DataObject) -> None:
    record = data.draw(records(version.schema))
    assert version.writer is not None
    assert version.writer(record, b"") == _fastavro(version, record)


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
@settings(max_examples=3, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_edge_value_in_every_field_gets_fastavros_answer(version: SchemaVersion, data: st.DataObject) -> None:
    record = data.draw(records(version.schema))
    for path in paths(record):
        for value in [*EDGES, DROP]:
            _same_answer(version, changed(record, path, value))


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_any_value_in_any_field_gets_fastavros_answer(version: SchemaVersion, data: st.DataObject) -> None:
    record = data.draw(records(version.schema))
    where = paths(record)
    if where:
        record = changed(record, data.draw(st.sampled_from(where)), data.draw(ANY_VALUE | st.just(DROP)))
    _same_answer(version, record)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_long_bytes_are_avros_zigzag_varint(number: int) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "L", "fields": [{"name": "n", "type": "long"}]})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, {"n": number})
    assert long_bytes(number) == body.getvalue()


@pytest.mark.parametrize(
    "field_type",
    [
        {"type": "map", "values": "string"},
        ["null", "string", "int"],
        ["string", "int"],
        {"type": "fixed", "name": "F", "size": 4},
        {"type": "string", "logicalType": "uuid"},
        {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2},
    ],
    ids=["map", "three-branch union", "union without null", "fixed", "uuid", "decimal"],
)
def test_a_feature_the_compiler_does_not_write_stays_with_fastavro(field_type: Any) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "R", "fields": [{"name": "x", "type": field_type}]})
    assert compile_writer(schema) is None


def test_a_recursive_record_stays_with_fastavro() -> None:
    linked = {
        "type": "record",
        "name": "Maillon",
        "fields": [{"name": "suivant", "type": ["null", "Maillon"], "default": None}],
    }
    assert compile_writer(fastavro.parse_schema(linked)) is None
