"""The console's pages over fake metrics and a fake DLQ: figures, filters, masking, escaping and access."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from pydantic import SecretStr

from passerelle.broker import topics
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import PartnerProfile, Profiles
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.operator import OperatorCredential
from passerelle.runtime.replay import DlqEntry
from passerelle.settings import Settings
from services.console.access import Accounts, ConsoleAccess, Role
from services.console.app import Console, build, create_app
from services.console.settings import ConsoleSettings
from services.console.sources import HttpMetrics, Sample, Scrape, parse_exposition
from tests.logs import captured_logs

NOW = 1_800_000_000.0
OPERATOR = OperatorCredential("operateur", SecretStr("s3cret-de-test"))
READER = OperatorCredential("dpo", SecretStr("lecture-de-test"))
ACCESS = ConsoleAccess(Accounts.from_credentials({Role.OPERATOR: [OPERATOR], Role.READER: [READER]}))
AUTH = {"Authorization": OPERATOR.authorization}
HOSTILE = "<script>alert(1)</script>"
EVENT = "formation.Positionnement"


def scraped() -> list[Sample]:
    """What three services' /metrics say, written by the metric families the services use."""
    adapter, router, region = ServiceMetrics("milo_adapter"), ServiceMetrics("router"), ServiceMetrics("region_adapter")
    adapter.messages.labels("milo_adapter", "in", "imilo", EVENT, "ok").inc(7)
    adapter.messages.labels("milo_adapter", "in", "imilo", EVENT, "dlq").inc(2)
    adapter.dlq.labels("milo_adapter", "imilo", "validation").inc(2)
    adapter.last_message.labels("imilo").set(NOW - 100_000)
    adapter.silence_allowed.labels("imilo").set(24 * 3600)
    router.messages.labels("router", "in", "imilo", EVENT, "ok").inc(7)
    region.messages.labels("region_adapter", "out", "region-24", EVENT, "ok").inc(5)
    region.last_message.labels("region-24").set(NOW - 1_000)
    return [s for m in (adapter, router, region) for s in parse_exposition(generate_latest(m.registry).decode())]


class FakeMetrics:
    def __init__(self, samples: Sequence[Sample], unreachable: Sequence[str] = ()) -> None:
        self.result = Scrape(tuple(samples), tuple(unreachable))

    async def scrape(self) -> Scrape:
        return self.result


class FakeDlq:
    def __init__(self, entries: Sequence[DlqEntry]) -> None:
        self.all = list(entries)
        self.asked: list[list[str]] = []

    async def entries(self, services: Sequence[str]) -> list[DlqEntry]:
        self.asked.append(list(services))
        return [e for e in self.all if e.topic.removeprefix("dlq.") in services]


def dlq_entry(
    service: str, offset: int, *, code: str, source: str, message: str = "champ manquant", body: bytes = b"{}"
) -> DlqEntry:
    errors = {
        "format": "2",
        "code": code,
        "path": "jeune.dateNaissance",
        "message": message,
        "contract": "formation.Positionnement v1",
        "source_topic": source,
        "source_partition": "0",
        "source_offset": str(40 + offset),
        "service": service,
        "details": orjson.dumps([{"chemin": "jeune.dateNaissance", "regle": "requis", "message": message}]).decode(),
    }
    headers = [(f"passerelle_error_{k}", v.encode()) for k, v in errors.items()]
    headers.append(("correlation_id", b"corr-1"))
    record = SimpleNamespace(
        topic=f"dlq.{service}",
        partition=0,
        offset=offset,
        timestamp=int(NOW * 1000),
        key=None,
        value=body,
        headers=headers,
    )
    return DlqEntry.from_record(record)


PERSONAL = orjson.dumps({"nom": "Durand", "courriel": "lea.durand@example.org", "note": "tel 06 12 34 56 78"})
ENTRIES = [
    dlq_entry("milo_adapter", 3, code="validation", source="in.imilo", body=PERSONAL),
    dlq_entry("milo_adapter", 4, code="json", source="in.imilo", message=HOSTILE),
    dlq_entry("region_adapter", 9, code="csv", source="in.region-24"),
]


@pytest.fixture
def dlq() -> FakeDlq:
    return FakeDlq(ENTRIES)


def console_of(profiles: Profiles, catalogue: Catalogue, dlq: FakeDlq, samples: Sequence[Sample] = ()) -> Console:
    return Console(profiles, catalogue, ACCESS, FakeMetrics(samples), dlq, clock=lambda: NOW)


@pytest.fixture
def client(profiles: Profiles, catalogue: Catalogue, dlq: FakeDlq) -> TestClient:
    return TestClient(create_app(console_of(profiles, catalogue, dlq, scraped())))


def test_flows_count_each_partner_and_event_once(client: TestClient) -> None:
    page = client.get("/", headers=AUTH).text
    # The adapter's 9 (7 ok, 2 refused), not the router's 7 counted again.
    assert (
        "<td>imilo</td><td>publie</td><td>formation.Positionnement</td><td>imilo-json</td><td>9</td><td>2</td>" in page
    )
    assert "<td>region-24</td><td>reçoit</td><td>formation.Positionnement</td><td>region-json</td><td>5</td>" in page


def test_a_partner_silent_too_long_is_red(client: TestClient) -> None:
    page = client.get("/", headers=AUTH).text
    assert "silencieux depuis 1 j 3 h" in page  # 100,000 s without a message, 24 h allowed
    assert '<tr class="silencieux"><td><a href="/partenaires/imilo">imilo</a></td>' in page
    assert '<tr><td><a href="/partenaires/region-24">region-24</a></td>' in page  # heard from 1,000 s ago


def test_the_partner_row_shows_its_dlq_count_and_last_message(client: TestClient) -> None:
    page = client.get("/", headers=AUTH).text
    row = page[page.index('href="/partenaires/imilo"') :]
    row = row[: row.index("</tr>")]
    assert "<td>2</td>" in row and "2027-01-14 " in row


def test_unreachable_metrics_are_said(profiles: Profiles, catalogue: Catalogue, dlq: FakeDlq) -> None:
    console = Console(profiles, catalogue, ACCESS, FakeMetrics([], ["http://service-a/metrics"]), dlq)
    page = TestClient(create_app(console)).get("/", headers=AUTH).text
    assert "Métriques injoignables : http://service-a/metrics" in page
    assert "aucun message reçu" in page


def test_dlq_lists_every_service_and_filters(client: TestClient, dlq: FakeDlq) -> None:
    everything = client.get("/dlq", headers=AUTH).text
    assert "3 message(s) en erreur." in everything
    assert dlq.asked[-1] == list(topics.SERVICES)  # every service with a DLQ, as the bus defines them
    by_service = client.get("/dlq", params={"service": "region_adapter"}, headers=AUTH).text
    assert "1 message(s)" in by_service and 'href="/dlq/region_adapter/0/9"' in by_service
    assert dlq.asked[-1] == ["region_adapter"]
    by_partner = client.get("/dlq", params={"partenaire": "imilo"}, headers=AUTH).text
    assert "2 message(s)" in by_partner and "in.region-24" not in by_partner
    by_code = client.get("/dlq", params={"code": "json", "partenaire": "imilo"}, headers=AUTH).text
    assert "1 message(s)" in by_code and 'href="/dlq/milo_adapter/0/4"' in by_code
    assert '<input type="text" name="code" value="json" size="10">' in by_code  # the form keeps the filter


def test_a_record_shows_its_error_and_masks_the_body(client: TestClient) -> None:
    with captured_logs() as logs:
        page = client.get("/dlq/milo_adapter/0/3", headers=AUTH).text
    for shown in ("validation", "jeune.dateNaissance", "champ manquant", "formation.Positionnement v1", "in.imilo"):
        assert f"<td>{shown}</td>" in page
    assert "<td>43</td>" in page and "<td>correlation_id</td><td>corr-1</td>" in page
    assert "Durand" not in page and "lea.durand@example.org" not in page and "06 12 34 56 78" not in page
    assert "&quot;nom&quot;: &quot;***&quot;" in page
    assert not [e for e in logs if e["event"] == "console.message_brut_consulte"]


def test_the_raw_body_is_shown_on_request_and_logged(client: TestClient) -> None:
    with captured_logs() as logs:
        page = client.get("/dlq/milo_adapter/0/3", params={"brut": 1}, headers=AUTH).text
    assert "Durand" in page and "lea.durand@example.org" in page
    [seen] = [e for e in logs if e["event"] == "console.message_brut_consulte"]
    assert (seen["operateur"], seen["dlq"], seen["ref"]) == ("operateur", "dlq.milo_adapter", "0:3")
    assert b"passerelle_console_raw_views_total 1.0" in client.get("/metrics").content


def test_an_unknown_record_or_service_is_404(client: TestClient) -> None:
    assert client.get("/dlq/milo_adapter/0/99", headers=AUTH).status_code == 404
    assert client.get("/dlq/ailleurs/0/3", headers=AUTH).status_code == 404
    assert client.get("/partenaires/region-99", headers=AUTH).status_code == 404


def test_hostile_values_are_escaped(profiles: Profiles, catalogue: Catalogue, dlq: FakeDlq) -> None:
    hostile = PartnerProfile.model_validate({"id": "imilo", "nom": HOSTILE, "famille": "mission_locale"})
    client = TestClient(create_app(console_of(Profiles({"imilo": hostile}), catalogue, dlq)))
    for path in ("/", "/partenaires", "/partenaires/imilo", "/dlq", "/dlq/milo_adapter/0/4"):
        page = client.get(path, headers=AUTH).text
        assert "<script>" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/dlq/milo_adapter/0/4", headers=AUTH).text
    assert "&lt;script&gt;" in client.get("/partenaires/imilo", headers=AUTH).text
    filtered = client.get("/dlq", params={"code": '"><script>x</script>'}, headers=AUTH).text
    assert "<script>" not in filtered and 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in filtered


def test_a_partner_page_lists_the_exact_fields_it_receives(client: TestClient) -> None:
    page = client.get("/partenaires/imilo", headers=AUTH).text
    start = page.index("<h3>reperage.SignalementDecrochage</h3>")
    section = page[start : page.index("<h3>", start + 1)]
    assert "identite, contact" in section
    assert "<li><code>jeune.courriel</code></li>" in section  # its view lets contact details through
    withheld = section[section.index("Champs retenus") :]
    assert "<code>jeune.rqth</code>" in withheld and "<code>commentaire</code>" in withheld
    listing = client.get("/partenaires", headers=AUTH).text
    assert 'href="/partenaires/region-24"' in listing


def test_a_region_without_the_identity_view_does_not_receive_names(client: TestClient, profiles: Profiles) -> None:
    page = client.get("/partenaires/region-24", headers=AUTH).text
    received = [e for e, r in profiles["region-24"].receives.items() if "identite" not in r.view]
    assert received
    start = page.index(f"<h3>{received[0]}</h3>")
    section = page[start:]
    section = section[: section.index("Champs retenus")]
    assert "jeune.nomNaissance</code>" not in section and "jeune.prenom</code>" not in section


@pytest.mark.parametrize("path", ["/", "/dlq", "/dlq/milo_adapter/0/3", "/partenaires", "/partenaires/imilo"])
def test_every_page_asks_for_a_login(client: TestClient, path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith('Basic realm="passerelle-console"')
    browser = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and browser.headers["location"].startswith("/connexion?suite=%2F")
    wrong = "Basic " + base64.b64encode(b"operateur:autre").decode()
    assert client.get(path, headers={"Authorization": wrong}).status_code == 401
    assert client.get(path, headers=AUTH).status_code == 200
    assert client.get(path, headers={"Authorization": READER.authorization}).status_code == 200


def test_health_and_metrics_are_open(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_no_account_configured_refuses_every_page(profiles: Profiles, catalogue: Catalogue, dlq: FakeDlq) -> None:
    console = Console(profiles, catalogue, ConsoleAccess(Accounts.of([])), FakeMetrics([]), dlq)
    assert TestClient(create_app(console)).get("/", headers=AUTH).status_code == 401


def test_settings_read_the_urls_and_the_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("mot-de-passe\n", encoding="utf-8")
    settings = ConsoleSettings(
        metrics_urls=" http://a/metrics, http://b/metrics ,", operator_user="ops", operator_password_file=secret
    )
    assert settings.metrics == ("http://a/metrics", "http://b/metrics")
    assert settings.operator() == OperatorCredential("ops", SecretStr("mot-de-passe"))
    with pytest.raises(ValueError, match="OPERATOR_PASSWORD_FILE manque"):
        ConsoleSettings(operator_user="ops")


def test_build_reads_the_settings(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("mot-de-passe\n", encoding="utf-8")
    own = ConsoleSettings(metrics_urls="http://a/metrics", operator_user="ops", operator_password_file=secret)
    console = build(Settings(kafka_bootstrap="127.0.0.1:9092"), own)
    assert isinstance(console.metrics, HttpMetrics) and console.metrics.urls() == ("http://a/metrics",)
    assert console.access.accounts.check("ops", "mot-de-passe") is Role.OPERATOR
    assert console.access.accounts.check("ops", "autre") is None
    assert "imilo" in console.profiles and console.replays is not None and console.asyncapi_file is not None
    assert console.prepare is not None  # the replay journal's topic, created at start when missing
