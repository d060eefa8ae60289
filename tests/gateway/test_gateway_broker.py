"""The gateway over a real broker: a partner's HTTP post reaches in.<partner>, then the recipient's out.<partner>;
the Idempotency-Keys survive a restart and are shared by replicas."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.runtime.issuer import LocalIssuer
from passerelle.settings import Settings
from passerelle.stack.gateway import build_gateway
from passerelle.stack.local import Stack
from services.gateway.app import Gateway, create_app
from services.gateway.idempotency import Answer, KafkaAnswers
from tests.e2e.traffic import positionnement
from tests.flows import caused_by, header, wait_for
from tests.gateway.test_gateway import STATUS, status_csv

pytestmark = pytest.mark.broker


def _token(stack: Stack, partner: str) -> dict[str, str]:
    """The token ``dev up`` leaves for the partner's curl, in the folder it prints."""
    assert stack.gateway_dir is not None
    return {"Authorization": f"Bearer {(stack.gateway_dir / f'{partner}.token').read_text().strip()}"}


async def test_a_post_reaches_in_imilo_then_the_regions_delivery(stack: Stack) -> None:
    assert stack.gateway_url is not None
    marker = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        answer = await client.post(
            "/v1/partners/imilo/messages",
            content=positionnement(marker),
            headers={**_token(stack, "imilo"), "Content-Type": "application/json", "Idempotency-Key": marker},
        )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    [sent] = await wait_for(stack.access, "in.imilo", caused_by(body["idMessage"]))
    assert header(sent, "ce_source") == header(sent, "passerelle_sender") == "imilo"
    [canonical] = await wait_for(stack.access, "canon.formation.Positionnement", caused_by(body["idMessage"]))
    assert header(canonical, "ce_id") == body["idsEvenements"][0]
    [delivered] = await wait_for(stack.access, "out.region-24", caused_by(body["idMessage"]), timeout_s=60)
    assert b"Martin" in (delivered.value or b"")


async def test_a_csv_with_a_bad_row_gets_its_feedback_as_on_kafka(stack: Stack) -> None:
    assert stack.gateway_url is not None
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        answer = await client.post(
            "/v1/partners/region-53/messages",
            params={"event": STATUS},
            content=status_csv(3, bad=(4,)),
            headers={**_token(stack, "region-53"), "Content-Type": "text/csv"},
        )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["acceptes"] == 2 and [e["position"] for e in body["erreurs"]] == ["ligne 4"]
    [feedback] = await wait_for(stack.access, "feedback.region-53", caused_by(body["idMessage"]), timeout_s=60)
    assert b"ligne 4" in (feedback.value or b"")
    [dead] = await wait_for(stack.access, "dlq.region_adapter", caused_by(body["idMessage"]), timeout_s=60)
    assert header(dead, "passerelle_error_position") == "ligne 4"


async def test_the_keys_survive_a_restart(kafka_settings: Settings) -> None:
    topic = f"_passerelle.gateway.test-{uuid.uuid4().hex[:8]}"
    first = KafkaAnswers(kafka_settings, topic=topic)
    await first.start()
    try:
        await first.put("region-53", "cle-1", Answer("abc", 202, {"idMessage": "m-1"}))
    finally:
        await first.stop()
    again = KafkaAnswers(kafka_settings, topic=topic)
    await again.start()
    try:
        assert again.trouble is None
        assert again.get("region-53", "cle-1") == Answer("abc", 202, {"idMessage": "m-1"})
        assert again.get("region-24", "cle-1") is None  # a key is the partner's own
    finally:
        await again.stop()


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer("http://issuer.test", "passerelle-gateway")


@pytest.fixture
async def replicas(
    kafka_settings: Settings, issuer: LocalIssuer, tmp_path: Path
) -> AsyncIterator[list[tuple[Gateway, httpx.AsyncClient]]]:
    """Two gateway replicas on the same broker and the same keys topic."""
    settings = kafka_settings.model_copy(
        update={
            "gateway_issuer": issuer.issuer,
            "gateway_audience": issuer.audience,
            "gateway_jwks_url": issuer.write_jwks(tmp_path / "jwks.json"),
        }
    )
    topic = f"_passerelle.gateway.test-{uuid.uuid4().hex[:8]}"
    # Apache Kafka creates no topic on a first write: the topics job's, here the one the test posts to.
    await ensure_topics(KafkaAccess.of(settings), [topics.TopicSpec.of(topics.inbound("region-53"))])
    async with contextlib.AsyncExitStack() as running:
        started: list[tuple[Gateway, httpx.AsyncClient]] = []
        for _ in range(2):
            gateway = build_gateway(settings, KafkaAnswers(settings, topic=topic))
            app = create_app(gateway)
            await running.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
            started.append((gateway, await running.enter_async_context(client)))
        yield started


async def test_a_key_used_on_one_replica_is_known_to_the_other(
    replicas: list[tuple[Gateway, httpx.AsyncClient]], issuer: LocalIssuer
) -> None:
    (_, one), (other_gateway, other) = replicas
    key = f"k-{uuid.uuid4().hex[:8]}"
    headers = {
        "Authorization": f"Bearer {issuer.mint('region-53')}",
        "Content-Type": "text/csv",
        "Idempotency-Key": key,
    }
    url, params = "/v1/partners/region-53/messages", {"event": STATUS}
    first = await one.post(url, params=params, content=status_csv(2), headers=headers)
    assert first.status_code == 202, first.text
    async with asyncio.timeout(30):  # the other replica follows the keys topic
        while other_gateway.answers.get("region-53", key) is None:
            await asyncio.sleep(0.1)
    replayed = await other.post(url, params=params, content=status_csv(2), headers=headers)
    assert replayed.headers.get("Idempotent-Replayed") == "true" and replayed.json() == first.json()
    refused = await other.post(url, params=params, content=status_csv(3), headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "cle_idempotence_reutilisee"
