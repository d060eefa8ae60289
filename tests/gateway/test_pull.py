"""The pull routes without a broker: a partner reads its own events from its acknowledged cursor, acknowledges, and
is refused someone else's events or cursor, and a cursor it did not get."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passerelle.runtime.issuer import LocalIssuer
from services.gateway.app import Gateway
from services.gateway.events import MemoryEvents
from tests.gateway.test_gateway import bearer

EVENTS = "/v1/partners/{}/events"


def _fill(gateway: Gateway, partner: str, count: int) -> None:
    assert isinstance(gateway.events, MemoryEvents)
    gateway.events.records[partner] = [
        (f"out.{partner}", {"ce_id": f"e-{n}", "ce_type": "fr.passerelle.formation.StatutCandidature"}, b"{}")
        for n in range(count)
    ] + [(f"feedback.{partner}", {"ce_id": "f-0", "content-type": "text/csv"}, "ligne 4 ; é".encode("latin-1"))]


def test_a_partner_reads_acknowledges_and_a_new_client_resumes_after_the_ack(
    client: TestClient, gateway: Gateway, issuer: LocalIssuer
) -> None:
    _fill(gateway, "imilo", 3)
    auth = bearer(issuer, "imilo")
    page = client.get(EVENTS.format("imilo"), params={"limit": 2}, headers=auth).json()
    assert [e["id"] for e in page["evenements"]] == ["e-0", "e-1"] and page["nombre"] == 2
    acked = client.post(
        EVENTS.format("imilo") + "/ack", json={"curseur": page["evenements"][0]["curseur"]}, headers=auth
    )
    assert acked.status_code == 200 and acked.json()["statut"] == "acquitte"
    again = client.get(EVENTS.format("imilo"), headers=auth).json()  # no after: from the acknowledged cursor
    assert [e["id"] for e in again["evenements"]] == ["e-1", "e-2", "f-0"]
    latin = again["evenements"][-1]
    assert (latin["flux"], latin["encodage"], latin["typeContenu"]) == ("feedback", "base64", "text/csv")
    following = client.get(EVENTS.format("imilo"), params={"after": page["curseur"]}, headers=auth).json()
    assert [e["id"] for e in following["evenements"]] == ["e-2", "f-0"]


def test_a_partner_cannot_read_or_acknowledge_for_another(
    client: TestClient, gateway: Gateway, issuer: LocalIssuer
) -> None:
    _fill(gateway, "region-24", 1)
    _fill(gateway, "imilo", 1)
    own = client.get(EVENTS.format("region-24"), headers=bearer(issuer, "region-24")).json()["curseur"]
    for answer in (
        client.get(EVENTS.format("region-24"), headers=bearer(issuer, "imilo")),
        client.post(EVENTS.format("region-24") + "/ack", json={"curseur": own}, headers=bearer(issuer, "imilo")),
    ):
        assert (answer.status_code, answer.json()["code"]) == (403, "lecture_interdite")
    # region-24's cursor in imilo's hands opens nothing.
    stolen = client.get(EVENTS.format("imilo"), params={"after": own}, headers=bearer(issuer, "imilo"))
    assert (stolen.status_code, stolen.json()["code"]) == (400, "curseur_invalide")
    assert "autre partenaire" in stolen.json()["message"]


def test_a_bad_acknowledgement_is_refused_in_french(client: TestClient, issuer: LocalIssuer) -> None:
    auth = bearer(issuer, "imilo")
    for body in (b"", b"[]", b'{"curseur": 3}', b"pas du json"):
        answer = client.post(EVENTS.format("imilo") + "/ack", content=body, headers=auth)
        assert (answer.status_code, answer.json()["code"]) == (400, "curseur_absent"), body
    forged = client.post(EVENTS.format("imilo") + "/ack", json={"curseur": "c1.bidon"}, headers=auth)
    assert (forged.status_code, forged.json()["code"]) == (400, "curseur_invalide")
    expired = client.get(EVENTS.format("imilo"), headers=bearer(issuer, "imilo", now=0))
    assert (expired.status_code, expired.json()["code"]) == (401, "jeton_expire")
