"""The registry's REST subset and validation endpoint, every error a Confluent-style 4xx (as the operator)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passerelle.core.contracts.catalogue import Catalogue
from services.registry.app import create_app
from services.registry.auth import OperatorCredential

SUBJECT = "formation.Positionnement"


@pytest.fixture
def client(catalogue: Catalogue, operator: OperatorCredential) -> TestClient:
    """The operator's client: every request carries the credential, so writes go through."""
    return TestClient(create_app(catalogue, operator), headers={"Authorization": operator.authorization})


def _schema(catalogue: Catalogue, subject: str = SUBJECT) -> dict[str, Any]:
    return dict(catalogue.latest(subject).schema)


def test_lists_subjects_and_versions_with_the_catalogue_ids(client: TestClient, catalogue: Catalogue) -> None:
    # Subjects follow TopicNameStrategy: a canonical contract is the value of its topic.
    assert client.get("/subjects").json() == sorted(f"canon.{s}-value" for s in catalogue.subjects)
    assert client.get(f"/subjects/{SUBJECT}/versions").json() == [1]
    latest = client.get(f"/subjects/{SUBJECT}/versions/latest").json()
    assert latest["id"] == catalogue.latest(SUBJECT).schema_id
    assert json.loads(client.get(f"/schemas/ids/{latest['id']}").json()["schema"]) == _schema(catalogue)
    # The bare name is an alias of the TopicNameStrategy one; the id's uses name the latter.
    assert client.get(f"/subjects/canon.{SUBJECT}-value/versions/1").json()["id"] == latest["id"]
    uses = client.get(f"/schemas/ids/{latest['id']}/versions").json()
    assert uses == [{"subject": f"canon.{SUBJECT}-value", "version": 1}]


def test_a_subject_outside_the_canonical_topics_keeps_its_name(client: TestClient) -> None:
    schema = {"type": "record", "name": "Sonde", "fields": [{"name": "x", "type": "int"}]}
    assert client.post("/subjects/probe-topic-value/versions", json={"schema": json.dumps(schema)}).status_code == 200
    assert "probe-topic-value" in client.get("/subjects").json()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", "/subjects/inconnu.Sujet/versions", None, 404, 40401),
        ("get", f"/subjects/{SUBJECT}/versions/9", None, 404, 40402),
        ("get", f"/subjects/{SUBJECT}/versions/zero", None, 422, 42202),
        ("get", "/schemas/ids/1", None, 404, 40403),
        ("post", f"/subjects/{SUBJECT}/versions", {"schema": "{pas du json"}, 422, 42201),
        ("post", f"/subjects/{SUBJECT}/versions", {"schema": '{"type": "record"}'}, 422, 42201),
        ("post", f"/subjects/{SUBJECT}/versions", {"pas_de_schema": 1}, 422, 42201),
        ("put", "/config", {"compatibility": "PRESQUE"}, 422, 42203),
    ],
)
def test_bad_requests_get_confluent_error_bodies(
    client: TestClient, method: str, path: str, body: Any, status: int, code: int
) -> None:
    response = getattr(client, method)(path, json=body) if body is not None else getattr(client, method)(path)
    assert response.status_code == status
    assert response.json()["error_code"] == code
    assert response.json()["message"]


def test_register_honours_full_transitive_compatibility(client: TestClient, catalogue: Catalogue) -> None:
    schema = _schema(catalogue)
    same = client.post(f"/subjects/{SUBJECT}/versions", json={"schema": json.dumps(schema)})
    assert same.json() == {"id": catalogue.latest(SUBJECT).schema_id}
    compatible = {
        **schema,
        "fields": [
            *schema["fields"],
            {"name": "nouveau", "type": ["null", "string"], "default": None, "doc": "Nouveau champ."},
        ],
    }
    breaking = {**schema, "fields": [*schema["fields"], {"name": "obligatoire", "type": "string", "doc": "x"}]}
    check = f"/compatibility/subjects/{SUBJECT}/versions/latest?verbose=true"
    assert client.post(check, json={"schema": json.dumps(compatible)}).json()["is_compatible"] is True
    verdict = client.post(check, json={"schema": json.dumps(breaking)}).json()
    assert verdict["is_compatible"] is False and "obligatoire" in " ".join(verdict["messages"])
    refused = client.post(f"/subjects/{SUBJECT}/versions", json={"schema": json.dumps(breaking)})
    assert refused.status_code == 409 and refused.json()["error_code"] == 409
    created = client.post(f"/subjects/{SUBJECT}/versions", json={"schema": json.dumps(compatible)}).json()["id"]
    assert client.get(f"/subjects/{SUBJECT}/versions").json() == [1, 2]
    assert client.post(f"/subjects/{SUBJECT}", json={"schema": json.dumps(compatible)}).json()["version"] == 2
    assert client.get(f"/schemas/ids/{created}").status_code == 200


def test_config_global_and_per_subject(client: TestClient) -> None:
    assert client.get("/config").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}
    assert client.put(f"/config/{SUBJECT}", json={"compatibility": "BACKWARD"}).json() == {"compatibility": "BACKWARD"}
    assert client.get(f"/config/{SUBJECT}").json() == {"compatibilityLevel": "BACKWARD"}
    assert client.get("/config").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}


def test_validate_reports_field_errors_in_french_without_personal_values(client: TestClient) -> None:
    bad = {
        "idPositionnement": "P1",
        "jeune": {"pseudonyme": "abc", "prenom": 12, "dateNaissance": "31/02/2005"},
        "codeStructure": "37261",
        "idSession": "24:1",
        "codeRomeVise": "Z9999",
        "datePositionnement": "2026-03-01",
        "dispositif": "INVENTE",
    }
    response = client.post(f"/validate/{SUBJECT}", json=bad)
    assert response.status_code == 422
    body = response.json()
    assert body["valide"] is False and body["sujet"] == SUBJECT and body["version"] == 1
    by_path = {e["chemin"]: e for e in body["erreurs"]}
    assert by_path["codeStructure"]["regle"] == "format_structure_ml"
    assert "Mission Locale" in by_path["codeStructure"]["attendu"]
    assert by_path["codeRomeVise"]["regle"] == "format_rome"
    assert by_path["dispositif"]["regle"] == "code_inconnu"
    assert by_path["jeune.pseudonyme"]["regle"] == "format_pseudonyme"
    assert by_path["jeune.dateNaissance"]["recu"] != '"31/02/2005"'  # personal: masked


def test_validate_malformed_json_and_unknown_event(client: TestClient) -> None:
    broken = client.post(f"/validate/{SUBJECT}", content=b"{pas du json")
    assert broken.status_code == 422 and broken.json()["erreurs"][0]["chemin"] == "$"
    unknown = client.post("/validate/inconnu.Evenement", json={})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == 40401


def _probe_schema(field: str = "x") -> str:
    fields: list[dict[str, Any]] = [{"name": "x", "type": "int"}]
    if field != "x":
        fields.append({"name": field, "type": ["null", "string"], "default": None})
    return json.dumps({"type": "record", "name": "Sonde", "fields": fields})


def test_soft_then_hard_delete_as_confluent_does(client: TestClient) -> None:
    first = client.post("/subjects/probe-topic-value/versions", json={"schema": _probe_schema()}).json()["id"]
    client.post("/subjects/probe-topic-value/versions", json={"schema": _probe_schema("y")})
    hard_first = client.delete("/subjects/probe-topic-value/versions/1?permanent=true")
    assert hard_first.status_code == 404 and hard_first.json()["error_code"] == 40407
    assert client.delete("/subjects/probe-topic-value/versions/1").json() == 1
    assert client.get("/subjects/probe-topic-value/versions").json() == [2]
    assert client.get("/subjects/probe-topic-value/versions?deleted=true").json() == [1, 2]
    assert client.get(f"/schemas/ids/{first}").status_code == 200  # a soft-deleted version's id still resolves
    assert client.delete("/subjects/probe-topic-value/versions/1?permanent=true").json() == 1
    assert client.get(f"/schemas/ids/{first}").json()["error_code"] == 40403
    assert client.delete("/subjects/probe-topic-value").json() == [2]
    assert "probe-topic-value" not in client.get("/subjects").json()
    assert "probe-topic-value" in client.get("/subjects?deleted=true").json()
    assert client.delete("/subjects/probe-topic-value?permanent=true").json() == [2]
    assert client.get("/subjects/probe-topic-value/versions").json()["error_code"] == 40401


def test_the_repositorys_contracts_are_not_deleted_through_the_registry(client: TestClient) -> None:
    refused = client.delete(f"/subjects/canon.{SUBJECT}-value")
    assert refused.status_code == 422 and "contrat du dépôt" in refused.json()["message"]
    assert client.get(f"/subjects/{SUBJECT}/versions").json() == [1]


def test_the_endpoints_confluent_clients_call(client: TestClient, catalogue: Catalogue) -> None:
    schema_id = catalogue.latest(SUBJECT).schema_id
    assert client.get("/schemas/types").json() == ["AVRO"]
    assert client.get(f"/schemas/ids/{schema_id}/subjects").json() == [f"canon.{SUBJECT}-value"]
    assert client.get(f"/subjects/{SUBJECT}/versions/1/referencedby").json() == []
    assert client.get("/mode").json() == {"mode": "READWRITE"}
    body = {"schema": json.dumps(catalogue.latest(SUBJECT).schema)}
    assert client.post(f"/compatibility/subjects/{SUBJECT}/versions", json=body).json() == {"is_compatible": True}
    assert client.put("/mode", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
    refused = client.post("/subjects/probe-topic-value/versions", json={"schema": _probe_schema()})
    assert refused.status_code == 422 and refused.json()["error_code"] == 42205
