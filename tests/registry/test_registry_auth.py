"""Only the operator writes to the registry; anyone may read, look up, check and validate; /metrics and /health open."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.local import Stack
from services.registry.app import OPEN_POSTS, create_app, is_open
from services.registry.auth import OperatorCredential, parse_basic
from services.registry.settings import RegistrySettings

SUBJECT = "formation.Positionnement"
PROBE = {"type": "record", "name": "Sonde", "fields": [{"name": "x", "type": "int"}]}
CHALLENGE = 'Basic realm="passerelle-registry"'
# Every route that changes the registry; a new one is guarded unless it is added to OPEN_POSTS on purpose.
WRITES = {
    ("POST", "/subjects/{subject}/versions"),
    ("PUT", "/config"),
    ("PUT", "/config/{subject}"),
    ("PUT", "/mode"),
    ("DELETE", "/subjects/{subject}"),
    ("DELETE", "/subjects/{subject}/versions/{version}"),
}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _compatible(catalogue: Catalogue) -> dict[str, Any]:
    schema = dict(catalogue.latest(SUBJECT).schema)
    extra = {"name": "nouveau", "type": ["null", "string"], "default": None, "doc": "Nouveau champ."}
    return {**schema, "fields": [*schema["fields"], extra]}


def _write_requests(catalogue: Catalogue) -> list[tuple[str, str, dict[str, Any]]]:
    """One request per write route, each valid: only the credential decides."""
    return [
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": json.dumps(_compatible(catalogue))}),
        ("PUT", "/config", {"compatibility": "BACKWARD"}),
        ("PUT", f"/config/{SUBJECT}", {"compatibility": "BACKWARD"}),
        ("POST", "/subjects/probe-topic-value/versions", {"schema": json.dumps(PROBE)}),
        ("DELETE", "/subjects/probe-topic-value/versions/1", {}),
        ("DELETE", "/subjects/probe-topic-value/versions/1?permanent=true", {}),
        ("PUT", "/mode", {"mode": "READONLY"}),
    ]


@pytest.fixture
def anonymous(catalogue: Catalogue, operator: OperatorCredential) -> TestClient:
    return TestClient(create_app(catalogue, operator))


class _Answer(Protocol):
    """A response from httpx or from the TestClient's own copy of it."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def _assert_refused(response: _Answer, words: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    body = response.json()
    assert body["error_code"] == 40101 and words in body["message"]


def _assert_unchanged(client: TestClient, catalogue: Catalogue) -> None:
    assert client.get(f"/subjects/{SUBJECT}/versions").json() == [v.version for v in catalogue.versions(SUBJECT)]
    assert client.get("/config").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}
    assert client.get(f"/config/{SUBJECT}").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}


def test_every_state_changing_route_is_guarded_and_only_lookups_and_checks_are_open(anonymous: TestClient) -> None:
    routes = [r for r in anonymous.app.routes if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    guarded = {(m, r.path) for r in routes for m in r.methods or () if not is_open(m, r.path)}
    assert guarded == WRITES
    open_posts = {r.path for r in routes if "POST" in (r.methods or ()) and is_open("POST", r.path)}
    assert open_posts == OPEN_POSTS


def test_anonymous_writes_are_refused_with_a_confluent_401_and_change_nothing(
    anonymous: TestClient, catalogue: Catalogue
) -> None:
    for method, path, body in _write_requests(catalogue):
        _assert_refused(anonymous.request(method, path, json=body), "authentification HTTP Basic requise")
    _assert_unchanged(anonymous, catalogue)
    # Refused before the body is read: a malformed one gets the same 401, not a 422.
    broken = anonymous.post(
        f"/subjects/{SUBJECT}/versions", content=b"{pas du json", headers={"content-type": "application/json"}
    )
    _assert_refused(broken, "authentification HTTP Basic requise")


@pytest.mark.parametrize(
    "headers",
    [
        _basic("operateur-test", "mauvais-mot-de-passe"),
        _basic("operateur-test", "mot-de-passe-de-test-9f2"),  # a prefix of the right one
        _basic("intrus", "mot-de-passe-de-test-9f2c"),
        _basic("", ""),
        {"Authorization": "Bearer mot-de-passe-de-test-9f2c"},
        {"Authorization": "Basic pas-du-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"operateur-test").decode()},  # no colon
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},  # not UTF-8
    ],
    ids=["password", "prefix", "user", "empty", "bearer", "base64", "colon", "utf8"],
)
def test_a_wrong_credential_is_refused(anonymous: TestClient, catalogue: Catalogue, headers: dict[str, str]) -> None:
    for method, path, body in _write_requests(catalogue):
        _assert_refused(anonymous.request(method, path, json=body, headers=headers), "refusé")
    _assert_unchanged(anonymous, catalogue)


def test_the_operators_credential_is_accepted(
    anonymous: TestClient, catalogue: Catalogue, operator: OperatorCredential
) -> None:
    auth = {"Authorization": operator.authorization}
    for method, path, body in _write_requests(catalogue):
        response = anonymous.request(method, path, json=body, headers=auth)
        assert response.status_code == 200, response.text
    # The scheme in another case, and httpx's own Basic encoding.
    lower = {"Authorization": operator.authorization.replace("Basic", "basic")}
    assert anonymous.put(f"/config/{SUBJECT}", json={"compatibility": "FULL"}, headers=lower).status_code == 200
    pair = (operator.user, operator.password.get_secret_value())
    assert anonymous.put("/config", json={"compatibility": "FULL"}, auth=pair).status_code == 200
    assert anonymous.get(f"/subjects/{SUBJECT}/versions").json() == [1, 2]
    assert anonymous.get("/config").json() == {"compatibilityLevel": "FULL"}


def test_reads_lookups_compatibility_checks_and_validation_are_open(
    anonymous: TestClient, catalogue: Catalogue
) -> None:
    latest = catalogue.latest(SUBJECT)
    assert f"canon.{SUBJECT}-value" in anonymous.get("/subjects").json()
    assert anonymous.get(f"/subjects/{SUBJECT}/versions").json() == [latest.version]
    assert anonymous.get(f"/subjects/{SUBJECT}/versions/latest").json()["id"] == latest.schema_id
    assert anonymous.get(f"/subjects/{SUBJECT}/versions/latest/schema").status_code == 200
    assert anonymous.get(f"/schemas/ids/{latest.schema_id}").status_code == 200
    assert anonymous.get(f"/schemas/ids/{latest.schema_id}/versions").status_code == 200
    assert anonymous.get(f"/config/{SUBJECT}").status_code == 200
    own = {"schema": json.dumps(latest.schema)}
    assert anonymous.post(f"/subjects/{SUBJECT}", json=own).json()["id"] == latest.schema_id
    check = f"/compatibility/subjects/{SUBJECT}/versions/latest"
    assert anonymous.post(check, json={"schema": json.dumps(_compatible(catalogue))}).json() == {"is_compatible": True}
    example = next((PROJECT_ROOT / "contracts" / "examples" / SUBJECT / "valid").glob("*.json"))
    assert anonymous.post(f"/validate/{SUBJECT}", content=example.read_bytes()).json()["valide"] is True


def test_health_and_metrics_are_open_and_count_refusals(anonymous: TestClient, catalogue: Catalogue) -> None:
    assert anonymous.get("/health").json() == {"statut": "pret"}
    anonymous.put("/config", json={"compatibility": "BACKWARD"})
    anonymous.put("/config", json={"compatibility": "BACKWARD"}, headers=_basic("intrus", "x"))
    metrics = anonymous.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'passerelle_registry_writes_refused_total{reason="anonyme"} 1.0' in metrics.text
    assert 'passerelle_registry_writes_refused_total{reason="identifiant_refuse"} 1.0' in metrics.text
    assert 'passerelle_service_ready{service="registry"} 1.0' in metrics.text


def test_without_an_operator_the_registry_is_read_only(catalogue: Catalogue, operator: OperatorCredential) -> None:
    client = TestClient(create_app(catalogue))
    for method, path, body in _write_requests(catalogue):
        response = client.request(method, path, json=body, headers={"Authorization": operator.authorization})
        _assert_refused(response, "lecture seule")
    _assert_unchanged(client, catalogue)
    assert client.get("/subjects").status_code == 200
    assert client.post(f"/validate/{SUBJECT}", json={}).status_code == 422  # validation still answers


def test_the_credential_never_shows_and_parses_as_confluent_clients_send_it(operator: OperatorCredential) -> None:
    assert "mot-de-passe" not in repr(operator) and "mot-de-passe" not in str(operator)
    assert parse_basic(operator.authorization) == ("operateur-test", "mot-de-passe-de-test-9f2c")
    assert parse_basic(_basic("u", "a:b:c")["Authorization"]) == ("u", "a:b:c")  # the password may hold colons
    assert parse_basic(None) is None and parse_basic("") is None
    for user, password in [("", "x"), ("a:b", "x"), ("u", "")]:
        with pytest.raises(ValueError, match="opérateur"):
            OperatorCredential(user, SecretStr(password))
    assert OperatorCredential.generate().password != OperatorCredential.generate().password


def test_settings_from_the_environment_the_file_winning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("USER", "PASSWORD", "PASSWORD_FILE"):
        monkeypatch.delenv(f"PASSERELLE_REGISTRY_OPERATOR_{name}", raising=False)
    assert RegistrySettings().operator() is None
    monkeypatch.setenv("PASSERELLE_REGISTRY_OPERATOR_USER", "operateur")
    with pytest.raises(ValidationError, match="OPERATOR_PASSWORD"):
        RegistrySettings()
    monkeypatch.setenv("PASSERELLE_REGISTRY_OPERATOR_PASSWORD", "depuis-la-variable")
    from_env = RegistrySettings().operator()
    assert from_env is not None and from_env.user_info == "operateur:depuis-la-variable"
    secret = tmp_path / "password"
    secret.write_text("depuis-le-fichier\n", encoding="utf-8")
    monkeypatch.setenv("PASSERELLE_REGISTRY_OPERATOR_PASSWORD_FILE", str(secret))
    from_file = RegistrySettings().operator()
    assert from_file is not None and from_file.user_info == "operateur:depuis-le-fichier"
    secret.write_text("\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="est vide"):
        RegistrySettings()
    monkeypatch.delenv("PASSERELLE_REGISTRY_OPERATOR_USER")
    secret.write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match="OPERATOR_USER"):
        RegistrySettings()


async def test_the_local_stacks_registry_has_a_credential_of_its_own(catalogue: Catalogue) -> None:
    stack = Stack(Settings())
    await stack._start_registry(catalogue, 30)
    try:
        credential, password_file = stack.registry_credential, stack.registry_password_file
        assert credential is not None and password_file is not None
        assert password_file.stat().st_mode & 0o077 == 0  # the developer's alone
        assert password_file.read_text(encoding="utf-8").strip() == credential.password.get_secret_value()
        async with httpx.AsyncClient(base_url=stack.registry_url or "") as client:
            config = {"compatibility": "BACKWARD"}
            assert (await client.put("/config", json=config)).status_code == 401
            authorised = await client.put(
                "/config", json=config, auth=(credential.user, password_file.read_text().strip())
            )
            assert authorised.status_code == 200
    finally:
        await stack.stop()
    assert not password_file.exists() and stack.registry_credential is None


def test_registry_serve_takes_the_operator_from_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("mot-de-passe-du-serveur\n", encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "PASSERELLE_REGISTRY_OPERATOR_USER": "operateur",
        "PASSERELLE_REGISTRY_OPERATOR_PASSWORD_FILE": str(secret),
    }
    env.pop("PASSERELLE_REGISTRY_OPERATOR_PASSWORD", None)
    command = [sys.executable, "-m", "passerelle.cli", "registry", "serve", "--host", LOOPBACK, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://{LOOPBACK}:{port}") as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and process.poll() is None, "registry serve n'a pas démarré"
                    time.sleep(0.1)
            config = {"compatibility": "BACKWARD"}
            assert client.put("/config", json=config).status_code == 401
            assert client.put("/config", json=config, auth=("operateur", "mauvais")).status_code == 401
            assert client.put("/config", json=config, auth=("operateur", "mot-de-passe-du-serveur")).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
