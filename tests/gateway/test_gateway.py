"""The gateway without a broker: who may post, what it answers (202, 422), what it would publish, idempotency."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from passerelle.core.headers import FIRST_LINE, SENDER
from passerelle.runtime.issuer import LocalIssuer
from passerelle.settings import Settings
from passerelle.simulation import native as simulated
from passerelle.stack.gateway import build_gateway
from services.gateway.app import Gateway, create_app
from services.gateway.auth import JwksFile
from services.gateway.idempotency import MemoryAnswers
from services.gateway.publish import MemoryPublisher
from tests.dialect_context import PSEUDO, SHAPES

STATUS = "formation.StatutCandidature"
LHEO = Path(__file__).resolve().parent.parent / "fixtures" / "lheo" / "modele-2.3.xml"
URL = "/v1/partners/{}/messages"


def statuses_csv(
    ids: Sequence[object], day: Callable[[int], dt.date] = lambda i: dt.date(2026, 3, 1 + i % 28)
) -> bytes:
    """Region-53's export (Latin-1, ';') of one status change per ``ids``, each its own idPositionnement."""
    records = [
        {
            "idPositionnement": f"P-{i}",
            "pseudonyme": PSEUDO("imilo", "D-1"),
            "idSession": "53:1",
            "codeStructure": "35238S00",
            "statut": "ADMIS",
            "dateStatut": day(n),
        }
        for n, i in enumerate(ids)
    ]
    return simulated.region_csv_file(STATUS, records, SHAPES[STATUS], "latin-1")


def status_csv(rows: int, bad: tuple[int, ...] = ()) -> bytes:
    """Region-53's export of ``rows`` status changes; the rows at file lines ``bad`` wrong."""
    lines = statuses_csv(range(rows)).decode("latin-1").split("\r\n")
    for line in bad:
        lines[line - 1] = lines[line - 1].replace("ADMIS", "PEUT-ETRE")
    return "\r\n".join(lines).encode("latin-1")


def bearer(signer: LocalIssuer, partner: str, **overrides: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {signer.mint(partner, **overrides)}"}


def post_csv(client: TestClient, issuer: LocalIssuer, body: bytes, **headers: str) -> Any:
    return client.post(
        URL.format("region-53"),
        params={"event": STATUS},
        content=body,
        headers={**bearer(issuer, "region-53"), "Content-Type": "text/csv", **headers},
    )


def sent(gateway: Gateway) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    publisher = gateway.publisher
    assert isinstance(publisher, MemoryPublisher)
    return publisher.sent


# Who is calling


def test_a_request_without_a_token_is_refused_with_a_bearer_challenge(client: TestClient) -> None:
    answer = client.post(URL.format("region-53"), content=b"a;b\r\n", headers={"Content-Type": "text/csv"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="passerelle"'
    assert answer.json()["code"] == "jeton_absent"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"now": time.time() - 3600}, "jeton_expire"),
        ({"audience": "une-autre-api"}, "audience_refusee"),
        ({"issuer": "http://ailleurs.test"}, "emetteur_refuse"),
    ],
)
def test_expired_or_misaddressed_tokens_are_refused(
    client: TestClient, issuer: LocalIssuer, overrides: dict[str, Any], code: str
) -> None:
    answer = post_csv(client, issuer, status_csv(1), **bearer(issuer, "region-53", **overrides))
    assert answer.status_code == 401 and answer.json()["code"] == code
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="passerelle", error="invalid_token"')


def test_a_token_signed_by_another_key_is_refused(client: TestClient) -> None:
    stranger = LocalIssuer("http://issuer.test", "passerelle-gateway")
    answer = post_csv(client, stranger, status_csv(1), **bearer(stranger, "region-53"))
    assert answer.status_code == 401 and answer.json()["code"] == "jeton_refuse"


def test_a_partner_publishes_only_as_itself(client: TestClient, issuer: LocalIssuer, gateway: Gateway) -> None:
    answer = post_csv(client, issuer, status_csv(1), **bearer(issuer, "region-24"))
    assert answer.status_code == 403 and answer.json()["code"] == "origine_usurpee"
    assert "region-24 ne peut pas publier au nom de region-53" in answer.json()["message"]
    assert sent(gateway) == []


def test_a_token_for_no_known_partner_is_refused(client: TestClient, issuer: LocalIssuer) -> None:
    answer = post_csv(client, issuer, status_csv(1), **bearer(issuer, "region-99"))
    assert answer.status_code == 401 and answer.json()["code"] == "client_inconnu"


# What it answers, what it publishes


def test_a_valid_csv_is_published_in_the_partners_name(
    client: TestClient, issuer: LocalIssuer, gateway: Gateway
) -> None:
    answer = post_csv(client, issuer, status_csv(3))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["statut"] == "accepte" and body["acceptes"] == 3 and body["rejetes"] == 0
    assert len(set(body["idsEvenements"])) == 3
    [(topic, value, headers)] = sent(gateway)
    named = dict(headers)
    assert topic == "in.region-53" and value == status_csv(3)
    assert named["ce_source"] == named[SENDER] == b"region-53"
    assert named["ce_type"] == b"fr.passerelle.formation.StatutCandidature"
    assert named["ce_id"] == f"{body['idMessage']}#1".encode() and named[FIRST_LINE] == b"2"
    assert named["content-type"] == b"text/csv"


def test_a_csv_with_one_bad_row_is_published_with_that_rows_error(
    client: TestClient, issuer: LocalIssuer, gateway: Gateway
) -> None:
    answer = post_csv(client, issuer, status_csv(4, bad=(3,)))
    assert answer.status_code == 202
    body = answer.json()
    assert body["statut"] == "partiel" and body["acceptes"] == 3 and body["rejetes"] == 1
    [error] = body["erreurs"]
    assert error["position"] == "ligne 3" and error["chemin"] == "statut" and error["recu"] == "PEUT-ETRE"
    assert error["contrat"] == "formation.StatutCandidature v1" and error["message"]
    assert len(sent(gateway)) == 1  # the adapter sends the bad row to the DLQ and the feedback, as on Kafka


def test_a_csv_with_nothing_valid_is_refused_and_not_published(
    client: TestClient, issuer: LocalIssuer, gateway: Gateway
) -> None:
    answer = post_csv(client, issuer, status_csv(2, bad=(2, 3)))
    assert answer.status_code == 422
    body = answer.json()
    assert body["statut"] == "rejete" and body["acceptes"] == 0
    assert [e["position"] for e in body["erreurs"]] == ["ligne 2", "ligne 3"]
    assert sent(gateway) == []


def test_a_large_csv_goes_in_pieces_that_keep_the_files_line_numbers(
    gateway_settings: Settings, issuer: LocalIssuer
) -> None:
    gateway = build_gateway(gateway_settings, MemoryAnswers(), MemoryPublisher())
    gateway.piece_bytes = 2_000
    with TestClient(create_app(gateway)) as client:
        answer = post_csv(client, issuer, status_csv(200, bad=(150,)))
    body = answer.json()
    assert answer.status_code == 202 and body["acceptes"] == 199 and body["morceaux"] > 1
    assert [e["position"] for e in body["erreurs"]] == ["ligne 150"]
    pieces = sent(gateway)
    assert len(pieces) == body["morceaux"]
    starts = [int(dict(h)[FIRST_LINE]) for _, _, h in pieces]
    assert starts[0] == 2 and starts == sorted(starts)
    assert len({dict(h)["ce_id"] for _, _, h in pieces}) == len(pieces)


def test_an_lheo_feed_with_one_bad_session(client: TestClient, issuer: LocalIssuer, gateway: Gateway) -> None:
    feed = LHEO.read_bytes().replace(b"<debut>20260100</debut>", b"<debut>pas-une-date</debut>", 1)
    answer = client.post(
        URL.format("region-24"),
        content=feed,
        headers={**bearer(issuer, "region-24"), "Content-Type": "application/xml"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["evenement"] == "formation.OffreSession" and body["acceptes"] == 3 and body["rejetes"] == 1
    [error] = body["erreurs"]
    assert error["position"] == "formation 1 / session GENS00000000-6252"
    assert error["chemin"] == "formation[1]/action[1]/session[1]/periode/debut" and error["code"] == "date"
    [(topic, _, headers)] = sent(gateway)
    assert topic == "in.region-24" and dict(headers)["content-type"] == b"application/xml"


def positionnement(dossier: str = "D-1") -> bytes:
    fields = {
        "idDossier": dossier,
        "idPositionnement": "P-1",
        "jeune": {"nomNaissance": "Martin"},
        "codeStructure": "69123S00",
        "idSession": "84:9",
        "datePositionnement": dt.date(2026, 2, 2),
        "dispositif": "PACEA",
    }
    return simulated.imilo_message("formation.Positionnement", fields)


def post_imilo(client: TestClient, issuer: LocalIssuer, body: bytes, **headers: str) -> Any:
    return client.post(
        URL.format("imilo"),
        content=body,
        headers={**bearer(issuer, "imilo"), "Content-Type": "application/json", **headers},
    )


def test_imilo_json_is_accepted_with_its_event_ids(client: TestClient, issuer: LocalIssuer, gateway: Gateway) -> None:
    answer = post_imilo(client, issuer, positionnement())
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["statut"] == "accepte" and body["evenement"] is None and len(body["idsEvenements"]) == 1
    [(topic, value, headers)] = sent(gateway)
    assert topic == "in.imilo" and value == positionnement() and "ce_type" not in dict(headers)


def test_imilo_json_without_its_required_fields_is_refused_with_native_paths(
    client: TestClient, issuer: LocalIssuer, gateway: Gateway
) -> None:
    answer = post_imilo(client, issuer, b'{"typeEvenement": "formation.Positionnement", "dossier": {}}')
    assert answer.status_code == 422
    paths = {e["chemin"] for e in answer.json()["erreurs"]}
    assert "dossier.idDossier" in paths and sent(gateway) == []


def test_a_json_document_larger_than_a_record_is_refused(gateway: Gateway, issuer: LocalIssuer) -> None:
    gateway.max_json_bytes = 1_000
    with TestClient(create_app(gateway)) as client:
        answer = post_imilo(client, issuer, b"[" + b",".join([positionnement()] * 10) + b"]")
    assert answer.status_code == 413 and answer.json()["code"] == "trop_volumineux"
    assert sent(gateway) == []


def test_a_content_type_other_than_the_profiles_is_refused(client: TestClient, issuer: LocalIssuer) -> None:
    answer = post_csv(client, issuer, b"{}", **{"Content-Type": "application/json"})
    assert answer.status_code == 415 and "text/csv" in answer.json()["message"]


# Idempotency-Key


def test_the_same_key_and_body_twice_publish_once(client: TestClient, issuer: LocalIssuer, gateway: Gateway) -> None:
    first = post_csv(client, issuer, status_csv(2), **{"Idempotency-Key": "export-2026-03-02"})
    again = post_csv(client, issuer, status_csv(2), **{"Idempotency-Key": "export-2026-03-02"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(sent(gateway)) == 1
    other = post_csv(client, issuer, status_csv(3), **{"Idempotency-Key": "export-2026-03-02"})
    assert other.status_code == 422 and other.json()["code"] == "cle_idempotence_reutilisee"
    assert len(sent(gateway)) == 1


def test_the_messages_id_derives_from_the_key(client: TestClient, issuer: LocalIssuer, gateway: Gateway) -> None:
    # Another replica, or this one after a crash before the key was kept, publishes the very same ids again.
    a = post_csv(client, issuer, status_csv(2), **{"Idempotency-Key": "k-1"}).json()
    other = build_gateway(Settings(**_auth_of(gateway)), MemoryAnswers(), MemoryPublisher())
    with TestClient(create_app(other)) as second:
        b = post_csv(second, issuer, status_csv(2), **{"Idempotency-Key": "k-1"}).json()
    assert a["idMessage"] == b["idMessage"] and a["idsEvenements"] == b["idsEvenements"]
    assert [dict(h)["ce_id"] for _, _, h in sent(gateway)] == [dict(h)["ce_id"] for _, _, h in sent(other)]


def _auth_of(gateway: Gateway) -> dict[str, Any]:
    verifier = gateway.verifier
    assert isinstance(verifier.keys, JwksFile)
    return {
        "gateway_issuer": verifier.issuer,
        "gateway_audience": verifier.audience,
        "gateway_jwks_url": verifier.keys.path.as_uri(),
    }


# Rate limits and metrics


def test_a_partner_over_its_rate_gets_429_with_retry_after(gateway_settings: Settings, issuer: LocalIssuer) -> None:
    settings = gateway_settings.model_copy(update={"gateway_burst": 2, "gateway_rate_per_s": 0.1})
    with TestClient(create_app(build_gateway(settings, MemoryAnswers(), MemoryPublisher()))) as client:
        answers = [post_csv(client, issuer, status_csv(1)).status_code for _ in range(3)]
        assert answers == [202, 202, 429]
        limited = post_csv(client, issuer, status_csv(1))
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 10
        other = client.post(
            URL.format("region-24"),
            content=b"{}",
            headers={**bearer(issuer, "region-24"), "Content-Type": "application/json"},
        )
        assert other.status_code != 429  # each partner has its own bucket


def test_metrics_count_requests_and_refusals_per_partner_and_route(client: TestClient, issuer: LocalIssuer) -> None:
    post_csv(client, issuer, status_csv(1))
    post_csv(client, issuer, status_csv(1), **bearer(issuer, "region-24"))
    text = client.get("/metrics").text
    route = 'route="/v1/partners/{partner}/messages"'
    assert f'passerelle_gateway_requests_total{{partner="region-53",{route},status="202"}} 1.0' in text
    assert f'passerelle_gateway_errors_total{{partner="region-53",reason="origine_usurpee",{route}}} 1.0' in text
    assert 'passerelle_gateway_request_seconds_count{partner="region-53"' in text
    assert client.get("/health").json() == {"statut": "pret"}
    assert client.get("/live").status_code == 200


def test_the_answer_is_json_with_french_keys(client: TestClient, issuer: LocalIssuer) -> None:
    body = orjson.loads(post_csv(client, issuer, status_csv(1)).content)
    assert set(body) >= {"statut", "idMessage", "acceptes", "rejetes", "idsEvenements", "erreurs"}
