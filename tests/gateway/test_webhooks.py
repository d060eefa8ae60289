"""The outbound half's pure decisions: the Standard Webhooks signature, the webhook id, the backoff and the budget,
the pull API's cursor, and the profile's webhook section. No broker, no HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
import yaml

from passerelle.core.partners import DEFAULT_OUTAGE_HOURS, ProfileError, load_profile
from passerelle.settings import PROJECT_ROOT
from services.gateway.cursor import Cursor, CursorError
from services.gateway.pull import bounded
from services.gateway.webhooks import (
    RetryPolicy,
    SecretError,
    after_failure,
    delivered,
    new_secret,
    request_headers,
    retry_after_s,
    sign,
    signed_headers,
    webhook_id,
)

# The example of the Standard Webhooks specification (and of its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
HOUR = 3600.0


def reference_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The specification's algorithm written out: HMAC-SHA256 of ``id.timestamp.body`` with the decoded secret."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{msg_id}.{timestamp}.{body.decode()}"
    return "v1," + base64.b64encode(hmac.new(key, content.encode(), hashlib.sha256).digest()).decode()


def test_the_signature_is_the_specifications_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_signature_matches_the_reference_algorithm_for_a_fresh_secret_and_a_french_body() -> None:
    secret = new_secret()
    body = '{"statut": "ADMIS", "commentaire": "entrée à l\'école"}'.encode()
    headers = signed_headers(secret, "msg_abc", 1767225600, body)
    assert headers == {
        "webhook-id": "msg_abc",
        "webhook-timestamp": "1767225600",
        "webhook-signature": reference_signature(secret, "msg_abc", 1767225600, body),
    }
    # Any change to the id, the time or one byte of the body changes it.
    assert sign(secret, "msg_abd", 1767225600, body) != headers["webhook-signature"]
    assert sign(secret, "msg_abc", 1767225601, body) != headers["webhook-signature"]
    assert sign(secret, "msg_abc", 1767225600, body + b" ") != headers["webhook-signature"]


@pytest.mark.parametrize("secret", ["whsec_pas*du*base64", "whsec_YWJj", ""])
def test_a_malformed_or_short_secret_is_refused(secret: str) -> None:
    with pytest.raises(SecretError):
        sign(secret, "msg_1", 1, b"{}")


def test_the_webhook_id_is_the_records_ce_id_at_every_attempt() -> None:
    assert webhook_id("4b0b87c6-51fe-5231-896c-41030af666ec", "out.region-24", 3, 10) == (
        "msg_4b0b87c6-51fe-5231-896c-41030af666ec"
    )
    # The same record read again elsewhere in the log (another replica, after a restart) keeps its id.
    assert webhook_id("m-1#2", "out.region-24", 3, 10) == webhook_id("m-1#2", "out.region-24", 0, 99)
    odd = webhook_id("id avec espaces\n", "out.region-24", 0, 1)
    assert (
        odd.startswith("msg_")
        and odd.isascii()
        and " " not in odd
        and odd == webhook_id("id avec espaces\n", "x", 1, 2)
    )
    without = webhook_id(None, "feedback.region-24", 1, 7)
    assert without == webhook_id(None, "feedback.region-24", 1, 7) != webhook_id(None, "feedback.region-24", 1, 8)


def test_an_attempt_carries_the_events_attributes_and_a_signature_of_its_own_body() -> None:
    secret = new_secret()
    record = {
        "ce_id": "e-1",
        "ce_type": "fr.passerelle.formation.Positionnement",
        "ce_source": "passerelle/region_adapter",
        "ce_time": "2026-03-01T10:00:00Z",
        "correlation_id": "m-1",
        "content-type": "application/json",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    body = b'{"id_positionnement": "P-1"}'
    sent = request_headers(secret, record, ("out.region-24", 2, 40), body, 1767225600.9)
    assert sent == {
        "ce-id": "e-1",
        "ce-type": "fr.passerelle.formation.Positionnement",
        "ce-source": "passerelle/region_adapter",
        "ce-time": "2026-03-01T10:00:00Z",
        "ce-correlationid": "m-1",
        "content-type": "application/json",
        "user-agent": "Passerelle-Webhooks/1",
        "webhook-id": "msg_e-1",
        "webhook-timestamp": "1767225600",
        "webhook-signature": reference_signature(secret, "msg_e-1", 1767225600, body),
    }
    bare = request_headers(secret, {}, ("feedback.region-24", 0, 3), b"x", 0)
    assert bare["content-type"] == "application/octet-stream" and not any(k.startswith("ce-") for k in bare)
    assert bare["webhook-id"] == webhook_id(None, "feedback.region-24", 0, 3)


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (204, True), (299, True), (301, False), (410, False), (400, False), (503, False), (None, False)],
)
def test_only_a_2xx_is_a_delivery(status: int | None, ok: bool) -> None:
    assert delivered(status) is ok


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(first_s=1.0, cap_s=300.0)
    assert [policy.delay_s(n) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert policy.delay_s(10_000) == 300.0


def test_failures_within_the_budget_are_retried_later_then_the_partner_pauses() -> None:
    policy = RetryPolicy(first_s=1.0, cap_s=300.0, paused_probe_s=HOUR)
    budget = DEFAULT_OUTAGE_HOURS * HOUR
    first = after_failure(None, 1000.0, budget, policy)
    assert (first.outage.since, first.outage.failures, first.at, first.paused) == (1000.0, 1, 1001.0, False)
    second = after_failure(first.outage, first.at, budget, policy)
    assert (second.outage.since, second.outage.failures, second.at - 1001.0, second.paused) == (1000.0, 2, 2.0, False)
    late = after_failure(second.outage, 1000.0 + budget - 1, budget, policy)
    assert not late.paused and late.at == 1000.0 + budget - 1 + 4.0
    over = after_failure(late.outage, 1000.0 + budget, budget, policy)
    assert over.paused and over.at == 1000.0 + budget + HOUR and over.outage.since == 1000.0


def test_a_receivers_retry_after_is_honoured_within_the_cap() -> None:
    policy = RetryPolicy(first_s=1.0, cap_s=300.0)
    assert after_failure(None, 0.0, HOUR, policy, asked_s=30.0).at == 30.0
    assert after_failure(None, 0.0, HOUR, policy, asked_s=86400.0).at == 300.0
    assert after_failure(None, 0.0, HOUR, policy, asked_s=0.0).at == 1.0  # never sooner than the backoff


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("120", 0.0) == 120.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after_s("bientôt", 0.0) is None and retry_after_s(None, 0.0) is None


def test_a_cursor_goes_round_and_names_only_the_partners_topics() -> None:
    own = ("out.region-24", "feedback.region-24")
    cursor = Cursor({("out.region-24", 0): 5}).after("feedback.region-24", 2, 9)
    assert Cursor.decode(cursor.encode(), own) == Cursor({("out.region-24", 0): 5, ("feedback.region-24", 2): 10})
    with pytest.raises(CursorError, match="autre partenaire"):
        Cursor.decode(cursor.encode(), ("out.region-53", "feedback.region-53"))
    for bad in [
        "",
        "c1.",
        "c1.!!!",
        "c2.e30",
        "c1." + base64.urlsafe_b64encode(b'{"out.region-24": {"0": -1}}').decode(),
    ]:
        with pytest.raises(CursorError):
            Cursor.decode(bad, own)
    assert cursor.within({("out.region-24", 0): 1, ("out.region-24", 1): 7}).positions == {
        ("out.region-24", 0): 5,
        ("out.region-24", 1): 7,
        ("feedback.region-24", 2): 10,
    }


def test_a_long_poll_is_bounded() -> None:
    assert bounded(0, -3) == (1, 0.0)
    assert bounded(10_000, 3600) == (500, 30.0)
    assert bounded(20, 2.5) == (20, 2.5)


def _profile(tmp_path: Path, webhook: object) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "contracts" / "partners" / "region-24.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "region-24.yaml"
    path.write_text(yaml.safe_dump({**raw, "webhook": webhook}, allow_unicode=True), encoding="utf-8")
    return path


def test_a_profile_names_its_webhook_with_french_fields(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, {"url": "https://si.region.example/passerelle", "panne_max_heures": 48}))
    assert profile.webhook is not None
    assert (profile.webhook.url, profile.webhook.outage_max_hours) == ("https://si.region.example/passerelle", 48)
    default = load_profile(_profile(tmp_path, {"url": "https://si.region.example/passerelle"}))
    assert default.webhook is not None and default.webhook.outage_max_hours == DEFAULT_OUTAGE_HOURS
    local = load_profile(_profile(tmp_path, {"url": "http://127.0.0.1:8099/recepteur"}))
    assert local.webhook is not None and local.webhook.url == "http://127.0.0.1:8099/recepteur"
    assert load_profile(PROJECT_ROOT / "contracts" / "partners" / "region-24.yaml").webhook is None


@pytest.mark.parametrize(
    ("webhook", "says"),
    [
        ({"url": "ftp://si.region.example"}, "webhook.url"),
        ({"url": "http://si.region.example/passerelle"}, "webhook.url"),  # clear text only on the machine
        ({"url": "https://"}, "webhook.url"),
        ({"url": "https://si.region.example", "panne_max_heures": 0}, "panne_max_heures"),
        ({"url": "https://si.region.example", "panne_max_heures": 24 * 30}, "panne_max_heures"),
        ({"url": "https://si.region.example", "secret": "whsec_x"}, "champ inconnu"),  # never in the profile
    ],
)
def test_a_wrong_webhook_section_is_refused_with_its_field(tmp_path: Path, webhook: object, says: str) -> None:
    with pytest.raises(ProfileError, match=says):
        load_profile(_profile(tmp_path, webhook))
