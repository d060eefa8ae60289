"""Every record Passerelle writes is a CloudEvent, read as such by the CloudEvents SDK's Kafka binding.

One good positionnement and one malformed message from I-MILO cross the stack; a record of each family they
produce (canonical, delivery, native delivery, audit, dead letter, feedback) is parsed with the SDK. The ``in.*``
records are the partners' own, in their native format, and are not Passerelle's to shape.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from passerelle.core.contracts.codec import split_header
from passerelle.core.envelope import AUDIT_TYPE, DEAD_LETTER_TYPE, FEEDBACK_TYPE, TYPE_PREFIX, event_type
from passerelle.stack.local import Stack
from tests.e2e.traffic import positionnement
from tests.flows import caused_by, header, native_headers, send, wait_for

pytestmark = pytest.mark.broker

SUBJECT = "formation.Positionnement"


def _parsed(record: Any) -> dict[str, Any]:
    message = KafkaMessage(headers=dict(record.headers or ()), key=record.key, value=record.value or b"")
    event = from_binary(message, JSONFormat())
    attributes: dict[str, Any] = event.get_attributes()
    assert attributes["specversion"] == "1.0" and attributes["id"] and attributes["source"], attributes
    assert attributes["type"].startswith(TYPE_PREFIX), attributes  # one naming scheme for every type
    assert isinstance(attributes["time"], datetime) and attributes["time"].tzinfo is not None, attributes
    return attributes


async def test_a_record_of_every_family_parses_with_the_cloudevents_sdk(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    good, bad = f"ce-{uuid.uuid4().hex[:8]}", f"ce-{uuid.uuid4().hex[:8]}"
    await send(producer, "in.imilo", positionnement(good), native_headers(SUBJECT, ce_id=good))
    await send(producer, "in.imilo", b'{"casse"', native_headers(SUBJECT, ce_id=bad))

    families = {
        "canon": ("canon.formation.Positionnement", good, event_type(SUBJECT)),
        "deliver": ("deliver.region-24", good, event_type(SUBJECT)),
        "out": ("out.region-24", good, event_type(SUBJECT)),
        "audit": ("audit.deliveries", good, AUDIT_TYPE),
        "dlq": ("dlq.milo_adapter", bad, DEAD_LETTER_TYPE),
        "feedback": ("feedback.imilo", bad, FEEDBACK_TYPE),
    }
    seen: dict[str, tuple[Any, dict[str, Any]]] = {}
    for family, (topic, marker, expected_type) in families.items():
        [record, *_] = await wait_for(stack.access, topic, caused_by(marker), timeout_s=60)
        attributes = _parsed(record)
        assert attributes["type"] == expected_type, (family, attributes)
        seen[family] = (record, attributes)

    assert seen["canon"][1]["source"] == "imilo" and seen["deliver"][1]["source"] == "imilo"
    assert seen["dlq"][1]["source"] == "passerelle/milo_adapter"
    assert header(seen["dlq"][0], "passerelle_original_ce_id") == bad  # the input's own attributes, kept
    # Each canonical record names its schema: the registry's version whose id frames the record.
    async with httpx.AsyncClient() as client:
        for family in ("canon", "deliver"):
            record, attributes = seen[family]
            where = urlsplit(attributes["dataschema"])
            assert where.scheme in ("http", "https") and where.path.startswith(f"/subjects/canon.{SUBJECT}-value/")
            answer = (await client.get(attributes["dataschema"])).json()
            schema_id, _ = split_header(record.value)
            assert answer["id"] == schema_id, (family, answer)
