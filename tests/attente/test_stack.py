"""The waiting alert over the real stack: a positionnement left without answer past region-24's threshold is
delivered to I-MILO and to the Region once, and a restarted service keeps what it follows and what it reported."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from passerelle.broker import topics
from passerelle.broker.reader import collect
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.envelope import event_type
from passerelle.stack.local import Stack
from services.attente.domain import SUBJECT, Step, alert_id
from tests.e2e.traffic import positionnement, pseudonym_of
from tests.flows import caused_by, header, native_headers, send, wait_for

pytestmark = pytest.mark.broker

TYPE = event_type(SUBJECT)


def _alert_for(pos: str, field: str) -> Callable[[Any], bool]:
    def match(record: Any) -> bool:
        return header(record, "ce_type") == TYPE and orjson.loads(record.value).get(field) == pos

    return match


async def _position(stack: Stack, producer: AIOKafkaProducer, n: str, day: dt.date, ce_id: str) -> None:
    # Session 24:… is funded by region-24, whose profile waits 15 days for an answer.
    await send(producer, "in.imilo", positionnement(n, datePositionnement=day), native_headers(ce_id=ce_id))


async def _verify_until(stack: Stack, topic: str, match: Callable[[Any], bool], timeout_s: float = 60.0) -> None:
    """Run the service's check until the alert is out (its hop may not have read the positionnement yet)."""
    async with asyncio.timeout(timeout_s):
        while not [r for r in await collect(stack.access, topic) if match(r)]:
            await stack.running["attente"].runtime.actions["verifier"]()
            await asyncio.sleep(0.5)


async def test_a_long_wait_is_delivered_once_and_survives_a_restart(
    stack: Stack, producer: AIOKafkaProducer, codec: AvroCodec
) -> None:
    n = uuid.uuid4().hex[:10]
    today = dt.datetime.now(dt.UTC).date()
    # The event clock moves to the latest date seen: a positionnement of two days ago carries it past the threshold.
    await _position(stack, producer, f"{n}a", today - dt.timedelta(days=40), f"pos-{n}a")
    await _position(stack, producer, f"{n}c", today - dt.timedelta(days=2), f"pos-{n}c")
    await wait_for(stack.access, "out.region-24", caused_by(f"pos-{n}a", f"pos-{n}c"), count=2)

    await _verify_until(stack, "out.imilo", _alert_for(f"P-{n}a", "idPositionnement"))
    [to_milo] = await wait_for(stack.access, "out.imilo", _alert_for(f"P-{n}a", "idPositionnement"))
    [to_region] = await wait_for(stack.access, "out.region-24", _alert_for(f"P-{n}a", "id_positionnement"))
    milo, region = orjson.loads(to_milo.value), orjson.loads(to_region.value)
    assert milo["typeEvenement"] == SUBJECT and milo["etape"] == "REPONSE" and milo["joursAttente"] >= 38
    assert milo["pseudonyme"] == pseudonym_of(f"{n}a") and milo["seuilJours"] == 15
    assert "conseiller" not in milo  # I-MILO's view has no personal category: the counsellor is its own
    assert region["evenement"] == SUBJECT and region["conseiller"] == "Conseillère A"  # region-24: identite
    assert header(to_milo, "ce_type") == TYPE

    # Another wait starts while the service is down; then the first positionnement is sent again (a late replay).
    await stack.remove("attente")
    await _position(stack, producer, f"{n}b", today - dt.timedelta(days=30), f"pos-{n}b")
    await wait_for(stack.access, "out.region-24", caused_by(f"pos-{n}b"))
    await stack.add("attente")
    await stack.wait_ready()
    await _position(stack, producer, f"{n}a", today - dt.timedelta(days=40), f"pos-{n}a-bis")
    await wait_for(stack.access, "out.region-24", caused_by(f"pos-{n}a-bis"))

    # What it followed survived the restart (the new wait is reported) and what it reported too (no second alert).
    await _verify_until(stack, "out.imilo", _alert_for(f"P-{n}b", "idPositionnement"))
    for _ in range(3):
        await stack.running["attente"].runtime.actions["verifier"]()
    milo_alerts = await wait_for(stack.access, "out.imilo", _alert_for(f"P-{n}a", "idPositionnement"), settle_s=2.0)
    region_alerts = await wait_for(stack.access, "out.region-24", _alert_for(f"P-{n}a", "id_positionnement"))
    assert len(milo_alerts) == 1 and len(region_alerts) == 1
    published = [
        codec.decode(r.value).record["idAttente"]
        for r in await collect(stack.access, topics.canonical(SUBJECT))
        if header(r, "ce_id") in {alert_id(f"P-{n}a", Step.ANSWER), alert_id(f"P-{n}b", Step.ANSWER)}
    ]
    assert sorted(published) == sorted({alert_id(f"P-{n}a", Step.ANSWER), alert_id(f"P-{n}b", Step.ANSWER)})
