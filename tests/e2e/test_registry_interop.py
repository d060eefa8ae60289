"""The registry's ids on the wire: Confluent's own serializers read and write Passerelle's topics.

Services take their ids from the contract registry at start and resolve ids they do not know from it, so an
outside tool (kcat, Kafka Connect, a partner's ``AvroDeserializer``) reads ``canon.*`` and ``deliver.*`` through
the registry, and a compatible version registered by someone else is read by the pipeline. The stack's registry
serves from this test's event loop, so the synchronous Confluent client runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import split_header
from passerelle.core.envelope import event_type
from passerelle.stack.local import Stack
from tests.e2e.traffic import positionnement
from tests.flows import caused_by, header, native_headers, send, wait_for

pytestmark = pytest.mark.broker

SUBJECT = "formation.Positionnement"
TOPIC = f"canon.{SUBJECT}"


def _registry(stack: Stack, write: bool = False) -> SchemaRegistryClient:
    assert stack.registry_url
    config: dict[str, Any] = {"url": stack.registry_url}
    if write:
        assert stack.registry_credential is not None
        config["basic.auth.user.info"] = stack.registry_credential.user_info
    return SchemaRegistryClient(config)


async def _positionnement_through(stack: Stack, producer: AIOKafkaProducer, marker: str) -> tuple[Any, Any]:
    await send(producer, "in.imilo", positionnement(marker), native_headers(ce_id=marker))
    [canonical] = await wait_for(stack.access, TOPIC, caused_by(marker))
    [delivery] = await wait_for(stack.access, "deliver.region-24", caused_by(marker))
    return canonical, delivery


async def test_confluents_deserializer_reads_canonical_and_delivered_records(
    stack: Stack, producer: AIOKafkaProducer, catalogue: Catalogue
) -> None:
    canonical, delivery = await _positionnement_through(stack, producer, f"interop-{uuid.uuid4().hex[:8]}")
    registry = _registry(stack)
    registered = await asyncio.to_thread(registry.get_latest_version, f"{TOPIC}-value")
    assert split_header(canonical.value)[0] == registered.schema_id  # framed with the registry's id
    deserializer = AvroDeserializer(registry)
    for record in (canonical, delivery):
        context = SerializationContext(record.topic, MessageField.VALUE)
        value = await asyncio.to_thread(deserializer, record.value, context)
        assert value is not None and set(value) <= {f["name"] for f in catalogue.latest(SUBJECT).schema["fields"]}
        assert value["idPositionnement"], value


async def test_a_version_registered_by_a_confluent_serializer_is_read_by_the_pipeline(
    stack: Stack, producer: AIOKafkaProducer, catalogue: Catalogue
) -> None:
    first = f"interop-{uuid.uuid4().hex[:8]}"
    canonical, _ = await _positionnement_through(stack, producer, first)
    registry = _registry(stack, write=True)
    context = SerializationContext(TOPIC, MessageField.VALUE)
    record = await asyncio.to_thread(AvroDeserializer(registry), canonical.value, context)
    assert record is not None
    # A compatible next version (an optional field with a default), registered as any producer's serializer does.
    schema = json.loads(json.dumps(catalogue.latest(SUBJECT).schema))
    schema["fields"].append({"name": "note_outil_externe", "type": ["null", "string"], "default": None})
    serializer = AvroSerializer(registry, json.dumps(schema), conf={"auto.register.schemas": True})
    again = f"interop-v2-{uuid.uuid4().hex[:8]}"
    value = await asyncio.to_thread(serializer, {**record, "note_outil_externe": "écrit hors Passerelle"}, context)
    assert value is not None
    new_id = split_header(value)[0]
    latest = await asyncio.to_thread(registry.get_latest_version, f"{TOPIC}-value")
    assert new_id not in catalogue.by_id and new_id == latest.schema_id
    headers = [(k, v) for k, v in canonical.headers if k not in ("ce_id", "correlation_id")]
    headers += [("ce_id", again.encode()), ("correlation_id", again.encode())]
    await producer.send_and_wait(TOPIC, value, key=canonical.key, headers=headers)
    [delivered] = await wait_for(stack.access, "out.region-24", caused_by(again), timeout_s=60)
    assert header(delivered, "ce_type") == event_type(SUBJECT)
