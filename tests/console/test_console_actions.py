"""Replaying from the console (confirmation, journal, outcome, roles), the contracts pages and the audit pages."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from passerelle.core.audit import AuditChain, AuditSigner
from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.envelope import format_time
from passerelle.core.headers import CAUSE, REPLAY
from passerelle.core.partners import Profiles
from passerelle.settings import Settings
from passerelle.stack.native_check import NativeReport, check_native_message
from services.console.app import Console, create_app
from services.console.contracts import diff, fields_of
from services.console.replays import JOURNAL_TOPIC, Replays
from tests.console.helpers import MemoryTopics, csrf_of, login
from tests.console.test_console import ACCESS, ENTRIES, OPERATOR, READER, FakeDlq, FakeMetrics
from tests.logs import captured_logs

EVENT = "formation.Positionnement"
SETTINGS = Settings(kafka_bootstrap="127.0.0.1:9092")


def console_of(profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics, **extra: object) -> Console:
    replays = Replays(topics, topics, clock=lambda: 1_800_000_100.0)
    return Console(
        profiles,
        catalogue,
        ACCESS,
        FakeMetrics([]),
        FakeDlq(ENTRIES),
        replays,
        topics,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def topics() -> MemoryTopics:
    return MemoryTopics()


@pytest.fixture
def operator(profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics) -> TestClient:
    client = TestClient(create_app(console_of(profiles, catalogue, topics)))
    login(client, OPERATOR.user, OPERATOR.password.get_secret_value())
    return client


def test_replaying_a_selection_asks_for_a_confirmation_then_records_it(
    operator: TestClient, topics: MemoryTopics
) -> None:
    listing = operator.get("/dlq").text
    assert 'type="checkbox" name="ref" value="milo_adapter/0/3"' in listing
    token = csrf_of(listing)
    refs = ["milo_adapter/0/3", "region_adapter/0/9"]
    confirm = operator.post("/rejouer", data={"csrf": token, "ref": refs})
    assert confirm.status_code == 200 and "Confirmer le rejeu" in confirm.text
    assert "2 message(s) seront renvoyés" in confirm.text and "<td>in.region-24</td>" in confirm.text
    assert topics.sent == []  # nothing before the second click
    with captured_logs() as logs:
        done = operator.post("/rejouer", data={"csrf": token, "ref": refs, "confirme": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/rejeux?lot=")
    journal, *replayed = topics.sent
    assert journal.topic == JOURNAL_TOPIC
    assert [o.topic for o in topics.sent] == [JOURNAL_TOPIC, JOURNAL_TOPIC, "in.imilo", "in.region-24"]
    line = orjson.loads(journal.value)
    who = (line["qui"], line["via"], line["dlq"], line["ref"])
    assert who == ("operateur", "compte local", "dlq.milo_adapter", "0:3")
    assert line["corpsModifie"] is False and "Durand" not in journal.value.decode()
    assert dict(replayed[1].headers)[REPLAY] == b"dlq.milo_adapter@0:3"
    assert [e["event"] for e in logs].count("console.rejeu") == 2
    page = operator.get(done.headers["location"]).text
    assert "<td>operateur</td>" in page and "en attente de traitement" in page


def test_a_corrected_body_is_replayed_and_its_outcome_read_from_the_topics(
    operator: TestClient, topics: MemoryTopics
) -> None:
    raw = operator.get("/dlq/region_adapter/0/9", params={"brut": 1}).text
    assert "Corriger puis rejouer" in raw
    token = csrf_of(raw)
    fixed = '{"corrige": true}'
    confirm = operator.post("/rejouer", data={"csrf": token, "ref": "region_adapter/0/9", "corps": fixed}).text
    assert "<td>corrigé</td>" in confirm and "{&quot;corrige&quot;: true}" in confirm
    form = {"csrf": token, "ref": "region_adapter/0/9", "corps": fixed, "confirme": "1"}
    done = operator.post("/rejouer", data=form, follow_redirects=False)
    sent = topics.sent[-1]
    assert sent.topic == "in.region-24" and sent.value == fixed.encode()
    assert orjson.loads(topics.sent[0].value)["corpsModifie"] is True
    mark = dict(sent.headers)[REPLAY].decode()
    # The adapter accepted it, the router delivered it to I-MILO: canon.*, the audit journal and out.imilo say so.
    ce_id = "evt-rejoue"
    cause = [(CAUSE, f"id-origine#{mark}".encode()), ("ce_id", ce_id.encode())]
    topics.append(f"canon.{EVENT}", b"avro", cause)
    topics.append("audit.deliveries", orjson.dumps({"idEvenement": ce_id, "destinataire": "imilo"}))
    topics.append("out.imilo", b"{}", [("correlation_id", b"corr-1")], ts=1_800_000_200_000)
    page = operator.get(done.headers["location"]).text
    assert "livré" in page and "out.imilo 0:0" in page


def test_a_replay_rejected_again_links_to_its_new_dlq_record(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    again = copy.copy(ENTRIES[0])
    dlq = FakeDlq(ENTRIES)
    console = console_of(profiles, catalogue, topics)
    client = TestClient(create_app(console))
    login(client, OPERATOR.user, OPERATOR.password.get_secret_value())
    token = csrf_of(client.get("/dlq").text)
    client.post("/rejouer", data={"csrf": token, "ref": "milo_adapter/0/4", "confirme": "1"})
    mark = dict(topics.sent[-1].headers)[REPLAY]
    topics.append("dlq.milo_adapter", again.value, [*again.headers, (REPLAY, mark)])
    page = client.get("/rejeux").text
    assert "de nouveau rejeté" in page and 'href="/dlq/milo_adapter/0/0"' in page
    assert dlq.all  # the fake DLQ is untouched: the outcome came from the topic


def test_a_read_only_user_sees_no_replay_form_and_cannot_replay(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    client = TestClient(create_app(console_of(profiles, catalogue, topics)))
    login(client, READER.user, READER.password.get_secret_value())
    listing = client.get("/dlq").text
    assert "checkbox" not in listing and "Rejouer la sélection" not in listing
    record = client.get("/dlq/milo_adapter/0/3").text
    assert "Rejeu réservé au rôle opérateur." in record and "Rejouer tel quel" not in record
    token = csrf_of(client.get("/contrats/valider").text)  # the session's token, from a form it may use
    with captured_logs() as logs:
        refused = client.post("/rejouer", data={"csrf": token, "ref": "milo_adapter/0/3", "confirme": "1"})
    assert refused.status_code == 403 and "lecture seule" in refused.text
    assert topics.sent == []
    assert next(e for e in logs if e["event"] == "console.rejeu_refuse")["operateur"] == "dpo"


def test_unknown_references_are_not_replayed(operator: TestClient, topics: MemoryTopics) -> None:
    token = csrf_of(operator.get("/dlq").text)
    for ref in ("milo_adapter/0/99", "ailleurs/0/3", "milo_adapter/x/3"):
        assert operator.post("/rejouer", data={"csrf": token, "ref": ref, "confirme": "1"}).status_code == 404
    assert operator.post("/rejouer", data={"csrf": token}).status_code == 400
    assert topics.sent == []


def test_the_dlq_filters_by_event_and_time(operator: TestClient) -> None:
    moment = datetime.fromtimestamp(1_800_000_000, UTC)
    day = moment.strftime("%Y-%m-%d")
    assert "3 message(s)" in operator.get("/dlq", params={"depuis": day, "jusqua": day}).text
    assert "0 message(s)" in operator.get("/dlq", params={"depuis": "2030-01-01"}).text
    assert "0 message(s)" in operator.get("/dlq", params={"jusqua": "2020-01-01 10:00"}).text
    by_event = operator.get("/dlq", params={"evenement": EVENT}).text
    assert "3 message(s)" in by_event  # each names formation.Positionnement v1 as its contract
    assert "0 message(s)" in operator.get("/dlq", params={"evenement": "aide.DemandeAide"}).text


def _v2(catalogue: Catalogue) -> Catalogue:
    latest = catalogue.latest(EVENT)
    schema = copy.deepcopy(latest.schema)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "commentaire"]
    schema["fields"].append({"name": "canal", "type": ["null", "string"], "default": None, "doc": "Canal."})
    subjects = dict(catalogue.subjects)
    subjects[EVENT] = (latest, SchemaVersion(EVENT, latest.version + 1, schema))
    return Catalogue.of(subjects)


def test_contracts_list_versions_fields_pii_examples_and_diffs(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    two = _v2(catalogue)
    root = SETTINGS.contracts_dir
    console = console_of(
        profiles,
        two,
        topics,
        examples_dir=root / "examples",
        asyncapi_file=root / "asyncapi.yaml",
        documents={"AsyncAPI des topics": "/contrats/asyncapi.yaml"},
    )
    client = TestClient(create_app(console))
    login(client, READER.user, READER.password.get_secret_value())
    listing = client.get("/contrats").text
    assert f'href="/contrats/{EVENT}?version=2"' in listing and 'href="/contrats/asyncapi.yaml"' in listing
    page = client.get(f"/contrats/{EVENT}", params={"version": 1}).text
    assert "<code>jeune.nomNaissance</code>" in page and "<td>identite</td>" in page
    assert "(accepté)" in page and "(refusé)" in page  # contracts/examples
    changes = client.get(f"/contrats/{EVENT}/diff", params={"de": 1, "a": 2}).text
    assert re.search(r"<code>commentaire</code></td><td>retiré</td>", changes)
    assert re.search(r"<code>canal</code></td><td>ajouté</td>", changes)
    assert "2 champ(s) différent(s)." in changes
    assert client.get("/contrats/asyncapi.yaml").text.startswith("asyncapi:")
    assert client.get("/contrats/inconnu.X").status_code == 404
    assert client.get(f"/contrats/{EVENT}/diff", params={"de": 1, "a": 9}).status_code == 404


def test_fields_and_diff_of_nested_records(catalogue: Catalogue) -> None:
    fields = {f.path: f for f in fields_of(catalogue.latest(EVENT).schema)}
    assert fields["jeune.nomNaissance"].pii == "identite" and fields["jeune.courriel"].pii == "contact"
    assert diff(catalogue.latest(EVENT), catalogue.latest(EVENT)) == []


def test_the_validation_form_shows_the_feedback_errors(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    def check(partner: str, event: str, payload: bytes) -> NativeReport:
        return check_native_message(SETTINGS, partner, event, payload)

    client = TestClient(create_app(console_of(profiles, catalogue, topics, check=check)))
    login(client, READER.user, READER.password.get_secret_value())  # read-only users may check a message
    token = csrf_of(client.get("/contrats/valider").text)
    csv = "id_positionnement;statut\nP-1;PEUT-ETRE\n"
    form = {"csrf": token, "partenaire": "region-53", "evenement": "formation.StatutCandidature", "message": csv}
    page = client.post("/contrats/valider", data=form).text
    assert "1 rejeté(s), 0 accepté(s)" in page and "<td>ligne 2</td>" in page
    broken = {**form, "partenaire": "imilo", "evenement": EVENT, "message": '{"casse'}
    assert "JSON" in client.post("/contrats/valider", data=broken).text
    assert client.post("/contrats/valider", data={**form, "partenaire": "region-99"}).status_code == 400


def _chain(count: int) -> tuple[list[bytes], Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    chain = AuditChain("routeur-0", AuditSigner(key))
    records = [
        chain.append(
            event_id=f"evt-{i}",
            event_type=EVENT,
            sender="imilo",
            recipient="region-24" if i % 2 else "region-53",
            fields=["pseudonyme"],
            delivery_id=f"liv-{i}",
            recorded_at=format_time(datetime(2026, 3, 1 + i, 10, tzinfo=UTC)),
        )
        for i in range(count)
    ]
    return records, key


def test_audit_search_and_verification_with_the_public_key(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    records, key = _chain(4)
    for value in records:
        topics.append("audit.deliveries", value)
    console = console_of(profiles, catalogue, topics, public_keys=(key.public_key(),))
    client = TestClient(create_app(console))
    login(client, READER.user, READER.password.get_secret_value())
    assert "4 livraison(s) trouvée(s)." in client.get("/audit").text
    by_partner = client.get("/audit", params={"partenaire": "region-24"}).text
    assert "2 livraison(s)" in by_partner and "evt-1" in by_partner and "evt-2" not in by_partner
    assert "1 livraison(s)" in client.get("/audit", params={"evenement": "evt-3"}).text
    dated = client.get("/audit", params={"depuis": "2026-03-02", "jusqua": "2026-03-03"}).text
    assert "2 livraison(s)" in dated
    assert "0 livraison(s)" in client.get("/audit", params={"type": "aide."}).text
    assert "Journal intègre" in client.get("/audit/verification").text

    forged = orjson.loads(records[2])
    forged["destinataire"] = "region-11"
    topics.topics["audit.deliveries"][2].value = orjson.dumps(forged)
    report = client.get("/audit/verification").text
    assert "Journal NON intègre" in report
    assert "Premier : audit.deliveries 0:2 (chaîne routeur-0, séquence 3) : contenu modifié" in report


def test_without_a_public_key_the_audit_cannot_be_verified(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    client = TestClient(create_app(console_of(profiles, catalogue, topics)))
    login(client, READER.user, READER.password.get_secret_value())
    assert "vérification impossible" in client.get("/audit/verification").text


def test_the_console_prepares_its_journal_topic_at_start(
    profiles: Profiles, catalogue: Catalogue, topics: MemoryTopics
) -> None:
    started: list[str] = []

    async def prepare() -> None:
        started.append("journal")

    console = Console(profiles, catalogue, ACCESS, FakeMetrics([]), FakeDlq([]), prepare=prepare)
    with TestClient(create_app(console)):
        assert started == ["journal"]
