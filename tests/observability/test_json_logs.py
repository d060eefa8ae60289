"""In JSON mode every line a service writes is one JSON object: its own, its libraries' and its last words.

The four services run as deployed (their own processes, ``PASSERELLE_LOG_FORMAT=json``, DEBUG) over an embedded
broker of this test's; they handle good and bad input, lose the broker, and are stopped. Every line of their
output must parse, the standard library's lines (librdkafka, aiokafka, uvicorn) included.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from passerelle.broker import topics
from passerelle.broker.admin import ensure_topics
from passerelle.broker.embedded import EmbeddedBroker
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.audit import KeyPairFiles
from passerelle.stack.processes import ProcessStack
from tests.conftest import TEST_SECRET
from tests.e2e.traffic import positionnement
from tests.flows import caused_by, native_headers, send, wait_for

pytestmark = pytest.mark.broker


def _lines(stack: ProcessStack) -> dict[str, list[str]]:
    return {
        name: [line for line in service.log.read_text(encoding="utf-8", errors="replace").splitlines() if line]
        for name, service in stack.services.items()
    }


async def test_every_line_of_a_json_mode_service_is_a_json_object(
    catalogue: Catalogue, profiles: Profiles, audit_keys: KeyPairFiles, tmp_path: Path
) -> None:
    broker = EmbeddedBroker().start()
    stack: ProcessStack | None = None
    try:
        await ensure_topics(broker.access, topics.all_topics(profiles.ids, catalogue.subjects))
        env = {
            **broker.access.environment(),
            "PASSERELLE_PSEUDONYM_SECRET": TEST_SECRET,
            "PASSERELLE_AUDIT_SIGNING_KEY_FILE": str(audit_keys.signing),
            "PASSERELLE_PRODUCER_IDEMPOTENCE": "false",
            "PASSERELLE_CREATE_TOPICS": "false",
            "PASSERELLE_LOG_FORMAT": "json",
            "PASSERELLE_LOG_LEVEL": "DEBUG",
        }
        stack = ProcessStack(env, tmp_path)
        stack.start()
        await stack.wait_ready(limit_s=120)
        producer = AIOKafkaProducer(**broker.access.aiokafka(), enable_idempotence=False)
        await producer.start()
        try:
            await send(producer, "in.imilo", positionnement("journal-1"), native_headers(ce_id="journal-1"))
            await send(producer, "in.imilo", b'{"pas": "un positionnement"', native_headers(ce_id="journal-2"))
        finally:
            await producer.stop()
        await wait_for(broker.access, "out.region-24", caused_by("journal-1"), timeout_s=60)
        broker.close()  # the clients complain, through the standard library's loggers
        await asyncio.sleep(5)
    finally:
        if stack is not None:
            stack.stop()
        broker.close()
    assert stack is not None
    parsed: list[dict[str, Any]] = []
    for name, lines in _lines(stack).items():
        assert lines, f"{name} n'a rien écrit"
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"{name} a écrit une ligne qui n'est pas du JSON : {line[:300]!r}")
            assert isinstance(record, dict) and "event" in record and "level" in record, (name, line[:300])
            parsed.append(record)
    events = {record["event"] for record in parsed}
    assert "message.recu" in events  # the services' own lines at DEBUG
    foreign = {record["logger"] for record in parsed if "logger" in record}
    assert foreign, "aucune ligne des bibliothèques : le test ne prouverait rien"
