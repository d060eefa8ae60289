"""A third-party client, confluent-kafka's SchemaRegistryClient, against the registry served over HTTP.

It writes as the operator with ``basic.auth.user.info``; without it, it still reads and checks, and is refused writes.
"""

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
from services.registry.auth import OperatorCredential

RECORD = {
    "type": "record",
    "name": "Essai",
    "namespace": "fr.passerelle.essai",
    "doc": "Un essai.",
    "fields": [{"name": "id", "type": "string", "doc": "Identifiant."}],
}


@pytest.fixture
def registry_url(catalogue: Catalogue, operator: OperatorCredential) -> Iterator[str]:
    port = free_port()
    app = create_app(catalogue, operator)
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning"))
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


def test_register_fetch_and_check_with_confluent_client(registry_url: str, operator: OperatorCredential) -> None:
    client = SchemaRegistryClient({"url": registry_url, "basic.auth.user.info": operator.user_info})
    record = RECORD
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


@pytest.mark.parametrize("user_info", [None, "operateur-test:mauvais-mot-de-passe", "intrus:mot-de-passe-de-test-9f2c"])
def test_confluent_client_without_the_operators_credential_reads_but_may_not_write(
    registry_url: str, catalogue: Catalogue, user_info: str | None
) -> None:
    conf = {"url": registry_url} | ({"basic.auth.user.info": user_info} if user_info else {})
    client = SchemaRegistryClient(conf)
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("essai.Essai", Schema(json.dumps(RECORD), "AVRO"))
    assert (refused.value.http_status_code, refused.value.error_code) == (401, 40101)
    assert "opérateur" in refused.value.error_message
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_latest_version("essai.Essai")  # nothing was registered
    assert missing.value.error_code == 40401
    # Partners still read, look up and check compatibility before going live.
    subject = "formation.Positionnement"
    published = catalogue.latest(subject)
    assert client.get_latest_version(subject).schema_id == published.schema_id
    own = Schema(json.dumps(published.schema), "AVRO")
    assert client.lookup_schema(subject, own).version == published.version
    assert client.test_compatibility(subject, own) is True
