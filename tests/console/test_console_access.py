"""Logging in to the console: local accounts, the signed session, CSRF on every form, roles, OIDC tokens."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.issuer import LocalIssuer
from services.console.access import (
    COOKIE,
    Accounts,
    ConsoleAccess,
    OidcVerifier,
    Role,
    SessionSigner,
    TokenRefused,
    hash_password,
    main,
    password_matches,
)
from services.console.app import Console, create_app
from services.console.settings import ConsoleSettings
from tests.console.helpers import csrf_of, login
from tests.console.test_console import ACCESS, OPERATOR, READER, FakeDlq, FakeMetrics
from tests.logs import captured_logs

AUDIENCE = "passerelle-console"


@pytest.fixture
def client(profiles: Profiles, catalogue: Catalogue) -> TestClient:
    return TestClient(create_app(Console(profiles, catalogue, ACCESS, FakeMetrics([]), FakeDlq([]))))


def test_passwords_are_stored_as_scrypt_hashes() -> None:
    stored = hash_password("cheval-agrafe")
    assert stored.startswith("scrypt$16384$8$1$") and "cheval" not in stored
    assert password_matches("cheval-agrafe", stored)
    assert not password_matches("cheval-agrafé", stored)
    assert hash_password("cheval-agrafe") != stored  # a fresh salt each time
    assert not password_matches("x", "md5$abc")


def test_the_accounts_file_is_parsed_and_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO("mot-de-passe-dpo\n")
    try:
        assert main(["dpo", "lecture"]) == 0
    finally:
        sys.stdin = saved
    line = capsys.readouterr().out
    file = tmp_path / "comptes"
    file.write_text("# comptes de la console\n\n" + line, encoding="utf-8")
    access = ConsoleSettings(accounts_file=file).access()
    assert access.accounts.check("dpo", "mot-de-passe-dpo") is Role.READER
    assert access.accounts.check("dpo", "autre") is None
    assert access.accounts.check("inconnu", "mot-de-passe-dpo") is None
    with pytest.raises(ValueError, match="ligne 1"):
        Accounts.parse("dpo:admin:scrypt$1")


def test_login_sets_a_signed_session_cookie(client: TestClient) -> None:
    with captured_logs() as logs:
        answer = login(client, OPERATOR.user, OPERATOR.password.get_secret_value(), "/dlq")
    assert answer.status_code == 303 and answer.headers["location"] == "/dlq"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "s3cret" not in cookie
    page = client.get("/dlq")
    assert page.status_code == 200 and "operateur · opérateur (peut rejouer)" in page.text
    assert next(e for e in logs if e["event"] == "console.connexion")["operateur"] == "operateur"
    assert not [e for e in logs if "s3cret-de-test" in str(e)]  # no password in any log line


def test_a_wrong_password_or_a_tampered_cookie_is_refused(client: TestClient) -> None:
    refused = login(client, OPERATOR.user, "mauvais")
    assert refused.status_code == 401 and "Utilisateur ou mot de passe incorrect." in refused.text
    assert client.get("/", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303
    login(client, READER.user, READER.password.get_secret_value())
    cookie = client.cookies[COOKIE]
    payload, _, mac = cookie.rpartition(".")
    forged = SessionSigner(ACCESS.sessions.key).issue("dpo", Role.OPERATOR, "compte local")[0].split(".")[0]
    assert client.get("/").status_code == 200
    client.cookies.clear()
    assert client.get("/", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 200
    # Role raised, signature of the read-only session kept: refused.
    assert client.get("/", headers={"Cookie": f"{COOKIE}={forged}.{mac}"}).status_code == 401
    altered = mac[:-1] + ("B" if mac.endswith("A") else "A")
    assert client.get("/", headers={"Cookie": f"{COOKIE}={payload}.{altered}"}).status_code == 401


def test_the_login_form_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/connexion")
    answer = client.post("/connexion", data={"utilisateur": OPERATOR.user, "mot_de_passe": "x", "csrf": "faux"})
    assert answer.status_code == 403 and COOKIE not in client.cookies


def test_an_expired_session_asks_to_log_in_again(profiles: Profiles, catalogue: Catalogue) -> None:
    now = [1_000.0]
    access = ConsoleAccess(ACCESS.accounts, SessionSigner(ttl_s=60, clock=lambda: now[0]))
    client = TestClient(create_app(Console(profiles, catalogue, access, FakeMetrics([]), FakeDlq([]))))
    login(client, OPERATOR.user, OPERATOR.password.get_secret_value())
    assert client.get("/").status_code == 200
    now[0] += 61
    assert client.get("/").status_code == 401


def test_every_form_needs_the_sessions_csrf_token(client: TestClient) -> None:
    login(client, OPERATOR.user, OPERATOR.password.get_secret_value())
    form = client.get("/contrats/valider").text
    token = csrf_of(form)
    assert client.post("/rejouer", data={"ref": "milo_adapter/0/3"}).status_code == 403
    assert client.post("/rejouer", data={"ref": "milo_adapter/0/3", "csrf": "x" + token[1:]}).status_code == 403
    assert client.post("/contrats/valider", data={"partenaire": "imilo"}).status_code == 403
    assert client.post("/deconnexion", data={}).status_code == 403
    # HTTP Basic reads pages but posts no form: a browser's remembered credential cannot be ridden.
    basic = TestClient(client.app)
    as_basic = {"Authorization": OPERATOR.authorization}
    assert basic.post("/rejouer", data={"csrf": token}, headers=as_basic).status_code == 403
    out = client.post("/deconnexion", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/connexion"
    assert client.get("/").status_code == 401


def test_a_login_never_redirects_to_another_site(client: TestClient) -> None:
    for elsewhere in ("//ailleurs.example/x", "/\\ailleurs.example", "https://ailleurs.example"):
        answer = login(client, OPERATOR.user, OPERATOR.password.get_secret_value(), elsewhere)
        assert answer.headers["location"] == "/", elsewhere


def _issuer(tmp_path: Path) -> tuple[LocalIssuer, OidcVerifier]:
    issuer = LocalIssuer("http://127.0.0.1/emetteur", "passerelle-gateway")
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    verifier = OidcVerifier(issuer.issuer, AUDIENCE, jwks, "roles", frozenset({"astreinte"}), frozenset())
    return issuer, verifier


def _token(issuer: LocalIssuer, subject: str, **claims: object) -> str:
    now = int(time.time())
    body = {"iss": issuer.issuer, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, issuer.key, algorithm="RS256", headers={"kid": issuer.key_id})


def test_oidc_tokens_of_the_local_issuer_give_a_role(tmp_path: Path) -> None:
    issuer, verifier = _issuer(tmp_path)
    assert verifier.verify(_token(issuer, "dpo", roles=["lecture"])) == ("dpo", Role.READER)
    assert verifier.verify(_token(issuer, "astreinte")) == ("astreinte", Role.OPERATOR)  # listed subject
    assert verifier.verify(issuer.mint("astreinte", audience=AUDIENCE)) == ("astreinte", Role.OPERATOR)
    with pytest.raises(TokenRefused, match="sans rôle"):
        verifier.verify(_token(issuer, "quelquun"))
    with pytest.raises(TokenRefused, match="audience"):
        verifier.verify(issuer.mint("astreinte"))  # the gateway's audience, not the console's
    with pytest.raises(TokenRefused, match="expiré"):
        verifier.verify(issuer.mint("astreinte", audience=AUDIENCE, now=time.time() - 3600))
    other = LocalIssuer(issuer.issuer, AUDIENCE)
    with pytest.raises(TokenRefused, match="clé"):
        verifier.verify(other.mint("astreinte"))


def test_an_oidc_token_opens_a_session_and_reads_as_a_bearer(
    tmp_path: Path, profiles: Profiles, catalogue: Catalogue
) -> None:
    issuer, verifier = _issuer(tmp_path)
    access = ConsoleAccess(Accounts.of([]), oidc=verifier)
    client = TestClient(create_app(Console(profiles, catalogue, access, FakeMetrics([]), FakeDlq([]))))
    token = _token(issuer, "dpo", roles="lecture")
    assert client.get("/partenaires", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/partenaires", headers={"Authorization": "Bearer abc"}).status_code == 401
    form = client.get("/connexion").text
    assert "Avec un jeton OIDC" in form
    answer = client.post("/connexion/jeton", data={"csrf": csrf_of(form), "jeton": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert "dpo · lecture seule" in client.get("/").text


def test_dev_up_prints_the_console_logins_generated_for_its_stack() -> None:
    from passerelle.settings import Settings
    from passerelle.stack.local import Stack, _console_logins

    stack = Stack(Settings(kafka_bootstrap="127.0.0.1:9092"), console_readonly=READER)
    stack.console_credential, stack.console_reader = OPERATOR, READER
    said = _console_logins(stack)
    assert "opérateur (peut rejouer) : utilisateur operateur, mot de passe s3cret-de-test" in said
    assert "lecture seule : utilisateur dpo, mot de passe configuré" in said and "lecture-de-test" not in said


def test_pages_forbid_frames_scripts_and_caching(client: TestClient) -> None:
    for answer in (client.get("/connexion"), client.get("/"), client.get("/health")):
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"


def test_an_issuers_jwks_is_fetched_over_http(tmp_path: Path) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    issuer, _ = _issuer(tmp_path)
    served = json.dumps(issuer.jwks()).encode()
    asked: list[str] = []

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(served)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        verifier = OidcVerifier(issuer.issuer, AUDIENCE, url, "roles", frozenset(), frozenset({"dpo"}))
        assert verifier.verify(_token(issuer, "dpo")) == ("dpo", Role.READER)
        assert verifier.verify(_token(issuer, "dpo")) == ("dpo", Role.READER)
        assert asked == ["/jwks.json"]  # the keys kept between logins
    finally:
        server.shutdown()
        thread.join()
