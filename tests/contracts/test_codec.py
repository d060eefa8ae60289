"""The codec: every contract round-trips, interoperates with plain fastavro, and fails precisely."""

from __future__ import annotations

import datetime
import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import HEADER_SIZE, AvroCodec
from passerelle.core.contracts.errors import (
    DecodeError,
    EncodeError,
    UnknownSchemaId,
    UnknownSubject,
    UnknownVersion,
    WireFormatError,
)
from passerelle.core.contracts.typed import TypedContracts
from passerelle.settings import PROJECT_ROOT
from tests.contracts.strategies import records

CATALOGUE = Catalogue.load(PROJECT_ROOT / "schemas" / "avro")
VERSIONS = [v for s in CATALOGUE for v in CATALOGUE.versions(s)]


@pytest.mark.parametrize("version", VERSIONS, ids=[f"{v.subject}-v{v.version}" for v in VERSIONS])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_contract_round_trips_and_its_records_validate(version: Any, data: st.DataObject) -> None:
    codec, typed = AvroCodec(CATALOGUE), TypedContracts(CATALOGUE)
    record = data.draw(records(version.schema))
    encoded = codec.encode(version.subject, record, version.version)
    decoded = codec.decode(encoded)
    assert (decoded.subject, decoded.version, decoded.schema_id) == (
        version.subject,
        version.version,
        version.schema_id,
    )
    assert decoded.record == record
    assert typed.validate(version.subject, record, version.version) == record


@pytest.mark.parametrize("version", VERSIONS, ids=[f"{v.subject}-v{v.version}" for v in VERSIONS])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_plain_fastavro_reads_our_bytes_and_we_read_its(version: Any, data: st.DataObject) -> None:
    codec = AvroCodec(CATALOGUE)
    record = data.draw(records(version.schema))
    ours = codec.encode(version.subject, record, version.version)
    assert fastavro.schemaless_reader(io.BytesIO(ours[HEADER_SIZE:]), version.parsed, None) == record
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.parsed, record)
    theirs = b"\x00" + version.schema_id.to_bytes(4, "big") + body.getvalue()
    assert codec.decode(theirs).record == record


def _sample(codec: AvroCodec) -> bytes:
    subject = "orientation.EvenementOrientation"
    kind = CATALOGUE.latest(subject).schema["fields"][2]["type"]["symbols"][0]
    record = {
        "idEvenement": "E1",
        "region": "24",
        "typeEvenement": kind,
        "titre": "Forum",
        "dateDebut": datetime.date(2026, 1, 5),
        "codesRome": [],
    }
    return codec.encode(subject, record)


def test_wire_errors_are_specific(codec: AvroCodec) -> None:
    good = _sample(codec)
    schema_id = int.from_bytes(good[1:5], "big")
    with pytest.raises(WireFormatError, match="magique"):
        codec.decode(b"\x01" + good[1:])
    with pytest.raises(WireFormatError, match="trop court"):
        codec.decode(b"")
    with pytest.raises(UnknownSchemaId, match="123"):
        codec.decode(b"\x00" + (123).to_bytes(4, "big") + good[5:])
    with pytest.raises(DecodeError, match="en trop") as trailing:
        codec.decode(good + b"\x00")
    assert "orientation.EvenementOrientation" in str(trailing.value) and str(schema_id) in str(trailing.value)


def test_every_truncation_fails_with_the_codecs_own_errors(codec: AvroCodec) -> None:
    good = _sample(codec)
    for size in range(len(good)):
        with pytest.raises((WireFormatError, DecodeError)):
            codec.decode(good[:size])


def test_encoding_errors_name_subject_and_field(codec: AvroCodec) -> None:
    with pytest.raises(EncodeError) as bad:
        codec.encode("orientation.EvenementOrientation", {"idEvenement": 5})
    assert "orientation.EvenementOrientation" in str(bad.value)
    with pytest.raises(UnknownSubject):
        codec.encode("inconnu.Sujet", {})
    with pytest.raises(UnknownVersion):
        codec.encode("orientation.EvenementOrientation", {}, version=42)


def test_reader_version_resolution(codec: AvroCodec) -> None:
    decoded = codec.decode(_sample(codec), reader_version="latest")
    assert decoded.subject == "orientation.EvenementOrientation"
