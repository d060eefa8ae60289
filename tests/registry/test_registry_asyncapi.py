"""The registry serves the AsyncAPI document and its HTML page, open to anyone, without a broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.settings import PROJECT_ROOT
from services.registry.app import create_app

COMMITTED = PROJECT_ROOT / "contracts" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def page(catalogue: Catalogue) -> str:
    response = TestClient(create_app(catalogue, asyncapi=COMMITTED.read_text(encoding="utf-8"))).get("/asyncapi.html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def test_serves_the_committed_document_as_yaml(catalogue: Catalogue) -> None:
    # No operator: reading is open to anyone, like every other read of the registry.
    response = TestClient(create_app(catalogue)).get("/asyncapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/yaml; charset=utf-8"
    assert response.text == COMMITTED.read_text(encoding="utf-8")


def test_reads_the_document_from_the_contracts_folder(
    catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 3.0.0\ninfo: {title: Essai, version: '9'}\n", encoding="utf-8")
    monkeypatch.setenv("PASSERELLE_CONTRACTS_DIR", str(tmp_path))
    client = TestClient(create_app(catalogue))
    assert client.get("/asyncapi.yaml").text.startswith("asyncapi: 3.0.0")
    assert "Essai" in client.get("/asyncapi.html").text


def test_without_a_document_both_routes_answer_404(
    catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_CONTRACTS_DIR", str(tmp_path))
    client = TestClient(create_app(catalogue))
    for path in ("/asyncapi.yaml", "/asyncapi.html"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error_code"] == 40401
        assert "AsyncAPI" in response.json()["message"]


def test_the_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<html lang='fr'>" in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(src|href)=['"]?https?://(?!lheo\.gouv\.fr)""", page)


def test_the_page_shows_every_channel_and_message(page: str) -> None:
    spec = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    for key, channel in spec["channels"].items():
        assert f"id='canal-{key}'" in page
        assert f"<code>{channel['address']}</code>" in page
    for name in spec["channels"]["in"]["messages"]:
        assert f"id='message-in-{name}'" in page
    # deliver.* reuses canon.*'s messages: a link to them, not a second copy.
    assert "href='#message-canon-formation.Positionnement'" in page
    assert page.count("id='message-canon-formation.Positionnement'") == 1


def test_the_page_lists_avro_fields_with_their_type_and_doc(page: str, catalogue: Catalogue) -> None:
    schema = catalogue.latest("formation.Positionnement").schema
    first = schema["fields"][0]
    row = f"<tr><td><code>{first['name']}</code></td><td>{first['type']}</td><td>{first['doc']}"
    assert row.replace("'", "&#x27;") in page
    assert "<td><code>jeune.nomNaissance</code></td><td>string, facultatif</td>" in page
    assert "[donnée personnelle : identite]" in page


def test_the_page_lists_headers_and_json_payloads(page: str) -> None:
    assert "<td><code>ce_type</code></td><td>= fr.passerelle.formation.Positionnement</td><td>oui</td>" in page
    assert "<td><code>passerelle_error_code</code></td>" in page
    assert "<td><code>dossier.idDossier</code></td><td>string ou integer</td><td>oui</td>" in page
    assert "<td><code>erreurs[].chemin</code></td>" in page


def test_every_text_is_escaped(catalogue: Catalogue) -> None:
    hostile = (
        "asyncapi: 3.0.0\n"
        "info: {title: '<script>alert(1)</script>', version: '1', description: 'a < b & \"c\"'}\n"
        "channels:\n"
        "  x:\n"
        '    address: "x.<img src=x onerror=alert(1)>"\n'
        "    messages:\n"
        '      m: {name: "<b>m</b>", payload: {type: object, properties: {"<i>": {type: string}}}}\n'
    )
    page = TestClient(create_app(catalogue, asyncapi=hostile)).get("/asyncapi.html").text
    assert "<script>" not in page and "<img" not in page and "<b>m" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &lt; b &amp; &quot;c&quot;" in page
