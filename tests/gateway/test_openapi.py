"""The gateway's OpenAPI document: generated from its routes, committed beside the AsyncAPI one and kept current,
served by the gateway itself, every answer of the inbound route described in French with examples that hold."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Iterable
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from passerelle.runtime.issuer import LocalIssuer
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.gateway import build_gateway
from passerelle.stack.openapi import document, specification
from services.gateway.app import MESSAGES_ROUTE, create_app
from services.gateway.idempotency import MemoryAnswers
from services.gateway.intake import Piece
from services.gateway.publish import MemoryPublisher
from tests.gateway.test_gateway import LHEO, STATUS, URL, bearer, status_csv

COMMITTED = PROJECT_ROOT / "contracts" / "openapi.yaml"
GUIDE = PROJECT_ROOT / "docs" / "integrator-guide.md"
# What the inbound route answers: acceptance, and each refusal of services/gateway (auth, app).
STATUSES = {"202", "400", "401", "403", "409", "413", "415", "422", "429", "503"}
Spec = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Spec:
    loaded: Spec = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    return loaded


def test_openapi_document_is_up_to_date() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == document(), (
        "contracts/openapi.yaml est périmé : lancez « passerelle contracts openapi »"
    )


def test_the_gateway_serves_the_committed_document(client: TestClient, spec: Spec) -> None:
    served = client.get("/openapi.json")
    assert served.status_code == 200 and served.json() == spec
    assert spec["openapi"].startswith("3.1")


def test_operator_routes_are_left_out(spec: Spec) -> None:
    assert not {"/metrics", "/health", "/live"} & set(spec["paths"])


def _operation(spec: Spec) -> Spec:
    operation: Spec = spec["paths"][MESSAGES_ROUTE]["post"]
    return operation


def test_every_answer_of_the_inbound_route_is_described_in_french(spec: Spec) -> None:
    responses = _operation(spec)["responses"]
    assert set(responses) == STATUSES
    for status, response in responses.items():
        assert re.search(r"[éèàç]|\b(le|la|les|du|des)\b", response["description"]), status
        content = response["content"]["application/json"]
        assert content["schema"] and content["examples"], status
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert all("Retry-After" in responses[status]["headers"] for status in ("409", "429", "503"))


def _examples(spec: Spec) -> list[tuple[str, str, Any, Spec]]:
    found = []
    for status, response in _operation(spec)["responses"].items():
        content = response["content"]["application/json"]
        found += [(status, name, example["value"], content["schema"]) for name, example in content["examples"].items()]
    return found


def test_every_example_holds_to_its_schema(spec: Spec) -> None:
    examples = _examples(spec)
    assert len(examples) >= len(STATUSES)
    for status, name, value, schema in examples:
        # The document's own schemas, by their JSON pointers: OpenAPI 3.1 schemas are JSON Schema 2020-12.
        root = {**schema, "components": spec["components"]}
        errors = [e.message for e in jsonschema.Draft202012Validator(root).iter_errors(value)]
        assert not errors, (status, name, errors)


def test_the_schemas_refuse_what_the_gateway_never_answers(spec: Spec) -> None:
    accepted = next(value for status, _, value, _ in _examples(spec) if status == "202")
    schema = {**_operation(spec)["responses"]["202"]["content"]["application/json"]["schema"]}
    schema["components"] = spec["components"]
    assert jsonschema.Draft202012Validator(schema).is_valid(accepted)
    assert not jsonschema.Draft202012Validator(schema).is_valid({**accepted, "statut": "peut-etre"})
    assert not jsonschema.Draft202012Validator(schema).is_valid({k: v for k, v in accepted.items() if k != "idMessage"})


def test_the_request_body_names_each_dialects_content_type(spec: Spec) -> None:
    operation = _operation(spec)
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/csv", "application/xml"}
    assert operation["security"] == [{"jetonOAuth2": []}]
    scheme = spec["components"]["securitySchemes"]["jetonOAuth2"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["schema"]["maxLength"] == 255


def test_the_integrator_guide_links_the_document_with_a_curl_for_each_inbound_flow() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert "../contracts/openapi.yaml" in guide and "/openapi.json" in guide
    commands = re.findall(r"^curl (?:[^\n]*\\\n)*[^\n]*", guide, flags=re.M)  # with its continued lines
    posted = {
        (match[1], match[2])
        for command in commands
        if (match := re.search(r"/v1/partners/([\w-]+)/messages.*?Content-Type: ([\w/]+)", command, flags=re.S))
    }
    # I-MILO JSON, Region JSON, Region CSV, LHEO XML.
    assert {("imilo", "application/json"), ("region-24", "application/json")} <= posted
    assert {("region-53", "text/csv"), ("region-24", "application/xml")} <= posted


def test_an_unreadable_xml_feed_is_a_documented_422_not_a_server_error(client: TestClient, issuer: LocalIssuer) -> None:
    # Found by schemathesis: the LHEO splitter's parse error used to escape as a 500.
    broken = LHEO.read_bytes()[:200]
    answer = client.post(
        URL.format("region-24"),
        content=b"\xff\xd8" + broken,
        headers={**bearer(issuer, "region-24"), "Content-Type": "application/xml"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["statut"] == "refuse" and answer.json()["code"] == "illisible"
    assert "XML illisible" in answer.json()["message"]


def test_a_feed_declaring_xml_entities_is_a_422_that_names_them(client: TestClient, issuer: LocalIssuer) -> None:
    feed = LHEO.read_bytes()
    declared = feed.replace(b"<lheo", b'<!DOCTYPE lheo [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><lheo', 1)
    answer = client.post(
        URL.format("region-24"),
        content=declared,
        headers={**bearer(issuer, "region-24"), "Content-Type": "application/xml"},
    )
    assert answer.status_code == 422, answer.text
    assert "entités XML déclarées" in answer.json()["message"]


def test_the_document_is_built_without_a_broker_or_an_issuer() -> None:
    assert specification()["info"]["title"] == "Passerelle — API des partenaires"


class _HeldPublisher(MemoryPublisher):
    """Publishes once let go: a request stays in flight while the test sends another."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, topic: str, pieces: Iterable[Piece]) -> int:
        self.entered.set()
        await self.release.wait()
        return await super().publish(topic, pieces)


async def test_the_same_key_while_its_first_request_runs_is_a_409(
    gateway_settings: Settings, issuer: LocalIssuer
) -> None:
    publisher = _HeldPublisher()
    app = create_app(build_gateway(gateway_settings, MemoryAnswers(), publisher))
    headers = {**bearer(issuer, "region-53"), "Content-Type": "text/csv", "Idempotency-Key": "statuts-du-jour"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:

        def post() -> Coroutine[Any, Any, httpx.Response]:
            url = URL.format("region-53")
            return client.post(url, params={"event": STATUS}, content=status_csv(2), headers=headers)

        first = asyncio.create_task(post())
        async with asyncio.timeout(10):  # a gateway that queued the second request would hang here: a failure
            await publisher.entered.wait()
            again = await post()
        assert again.status_code == 409 and again.json()["code"] == "cle_idempotence_en_cours"
        assert again.headers["Retry-After"] == "1"
        publisher.release.set()
        assert (await first).status_code == 202
        replayed = await post()
    assert replayed.status_code == 202 and replayed.headers["Idempotent-Replayed"] == "true"
    assert len(publisher.sent) == 1
