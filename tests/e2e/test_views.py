"""For every event and every recipient profile: nothing outside the profile's view is delivered."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from passerelle.broker import topics
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.envelope import Envelope
from passerelle.core.partners import Profiles
from passerelle.settings import PROJECT_ROOT
from passerelle.stack.local import Stack
from tests.e2e.full_records import full_record
from tests.flows import caused_by, send, wait_for

pytestmark = pytest.mark.broker

PROFILES = Profiles.load(PROJECT_ROOT / "contracts" / "partners")
PAIRS = [(event, p.id) for p in PROFILES for event in sorted(p.receives)]


def _aimed_at(subject: str, record: dict[str, Any], recipient: str) -> dict[str, Any]:
    """Make the router pick ``recipient``: set the region fields the routing table reads."""
    if recipient.startswith("region-"):
        code = recipient.removeprefix("region-")
        for name in ("region", "regionDestinataire"):
            if name in record:
                record[name] = code
        if subject == "formation.Positionnement":
            record["idSession"] = f"{code}:1"
    return record


def _allowed(schema: dict[str, Any], categories: set[str], free_text: bool) -> dict[str, Any]:
    """Expected delivered form: fields outside the view set to their default."""
    record = full_record(schema)

    def walk(avro: dict[str, Any], value: dict[str, Any]) -> None:
        for f in avro["fields"]:
            visible = (f.get("pii") in (None, *categories)) and (free_text or not f.get("texte_libre"))
            if not visible:
                value[f["name"]] = f.get("default")
                continue
            nested = f["type"]
            nested = next((b for b in nested if isinstance(b, dict)), None) if isinstance(nested, list) else nested
            if isinstance(nested, dict) and nested.get("type") == "record":
                walk(nested, value[f["name"]])

    walk(schema, record)
    return record


@pytest.mark.parametrize(("event", "recipient"), PAIRS, ids=[f"{e}->{r}" for e, r in PAIRS])
async def test_delivery_holds_exactly_the_view(
    stack: Stack, producer: AIOKafkaProducer, catalogue: Catalogue, codec: AvroCodec, event: str, recipient: str
) -> None:
    schema = catalogue.latest(event).schema
    record = _aimed_at(event, full_record(schema), recipient)
    sender = "imilo" if recipient.startswith("region-") else "region-24"
    marker = f"view-{uuid.uuid4().hex[:10]}"
    envelope = Envelope.new(event, sender, correlation_id=marker)
    await send(producer, topics.canonical(event), codec.encode(event, record), envelope.to_headers(), b"k")
    [delivered] = await wait_for(stack.access, topics.deliver(recipient), caused_by(marker))
    reception = PROFILES[recipient].receives[event]
    expected = _aimed_at(event, _allowed(schema, set(reception.view), reception.free_text), recipient)
    if event == "reperage.SignalementDecrochage":
        expected["codeStructure"] = record["codeStructure"]
    assert codec.decode(delivered.value).record == expected
