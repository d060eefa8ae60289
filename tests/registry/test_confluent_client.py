"""A third-party client, confluent-kafka's SchemaRegistryClient, against the registry served over HTTP."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from services.registry.app import create_app


@pytest.fixture
def registry_url(catalogue: Catalogue) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(catalogue), host=LOOPBACK, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def test_register_fetch_and_check_with_confluent_client(registry_url: str) -> None:
    client = SchemaRegistryClient({"url": registry_url})
    record = {
        "type": "record",
        "name": "Essai",
        "namespace": "fr.passerelle.essai",
        "doc": "Un essai.",
        "fields": [{"name": "id", "type": "string", "doc": "Identifiant."}],
    }
    schema_id = client.register_schema("essai.Essai", Schema(json.dumps(record), "AVRO"))
    assert json.loads(client.get_schema(schema_id).schema_str or "") == record
    latest = client.get_latest_version("essai.Essai")
    assert (latest.version, latest.schema_id) == (1, schema_id)
    optional = {
        **record,
        "fields": [*record["fields"], {"name": "n", "type": ["null", "int"], "default": None, "doc": "Optionnel."}],
    }
    mandatory = {**record, "fields": [*record["fields"], {"name": "m", "type": "int", "doc": "Obligatoire."}]}
    assert client.test_compatibility("essai.Essai", Schema(json.dumps(optional), "AVRO")) is True
    assert client.test_compatibility("essai.Essai", Schema(json.dumps(mandatory), "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("essai.Essai", Schema(json.dumps(mandatory), "AVRO"))
    assert refused.value.http_status_code == 409
    found = client.lookup_schema("essai.Essai", Schema(json.dumps(record), "AVRO"))
    assert found.schema_id == schema_id
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_latest_version("inconnu.Sujet")
    assert missing.value.error_code == 40401


def test_a_record_from_our_codec_decodes_with_confluents_deserializer(
    registry_url: str, catalogue: Catalogue, codec: AvroCodec
) -> None:
    subject = "orientation.EvenementOrientation"
    kind = catalogue.latest(subject).schema["fields"][2]["type"]["symbols"][0]
    record = {
        "idEvenement": "EV-1",
        "region": "24",
        "typeEvenement": kind,
        "titre": "Forum des métiers",
        "description": None,
        "dateDebut": datetime.date(2026, 5, 4),
        "dateFin": None,
        "lieu": None,
        "codesRome": ["F1604"],
        "placesDisponibles": 30,
        "url": None,
    }
    data = codec.encode(subject, record)
    client = SchemaRegistryClient({"url": registry_url})
    decoded = AvroDeserializer(client)(data, SerializationContext(f"canon.{subject}", MessageField.VALUE))
    assert decoded == record
