"""OIDC login by redirection against a tiny provider on 127.0.0.1: code with PKCE, state, nonce, ID token checks."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.testclient import TestClient

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.issuer import LocalIssuer
from services.console.access import COOKIE, Accounts, ConsoleAccess, OidcVerifier, Role, SessionSigner
from services.console.app import Console, create_app
from services.console.oidc import FLOW_COOKIE, Discovery, FlowRefused, OidcLogin, Pending
from services.console.settings import ConsoleSettings
from tests.console.helpers import csrf_of
from tests.console.test_console import FakeDlq, FakeMetrics
from tests.logs import captured_logs

CLIENT = "passerelle-console"


@dataclass
class Provider:
    """The issuer's behaviour for the next ID token: who logs in, and what a test makes wrong in it."""

    issuer: LocalIssuer
    subject: str = "astreinte"
    claims: dict[str, Any] = field(default_factory=dict)
    nonce: str | None = None  # set: this nonce instead of the one the console asked for
    audience: str | None = None
    ttl_s: int = 300
    key: LocalIssuer | None = None  # set: signed by another key under the issuer's kid
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanged: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer.issuer,
            "aud": self.audience or CLIENT,
            "sub": self.subject,
            "iat": now,
            "exp": now + self.ttl_s,
            "nonce": self.nonce if self.nonce is not None else nonce,
            **self.claims,
        }
        signer = (self.key or self.issuer).key
        return jwt.encode(body, signer, algorithm="RS256", headers={"kid": self.issuer.key_id})


def provider_app(provider: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> JSONResponse:
        base = provider.issuer.issuer
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/autoriser",
                "token_endpoint": f"{base}/jeton",
                "jwks_uri": f"{base}/jwks",
                "code_challenge_methods_supported": ["S256"],
            }
        )

    @app.get("/jwks")
    async def jwks() -> JSONResponse:
        return JSONResponse(provider.issuer.jwks())

    @app.get("/autoriser")
    async def authorize(
        response_type: str,
        client_id: str,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
        code_challenge_method: str,
        scope: str,
    ) -> RedirectResponse:
        # The user is taken as logged in at the issuer: what matters here is what the console sends and checks.
        if response_type != "code" or code_challenge_method != "S256" or "openid" not in scope.split():
            raise HTTPException(400, "requête d'autorisation invalide")
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "nonce": nonce,
            "challenge": code_challenge,
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

    @app.post("/jeton")
    async def token(request: Request) -> JSONResponse:
        # An urlencoded form read by hand: the console's tests need no multipart parser.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant_type, code, redirect_uri = form.get("grant_type"), form.get("code", ""), form.get("redirect_uri")
        client_id, code_verifier = form.get("client_id"), form.get("code_verifier", "")
        asked = provider.codes.pop(code, None)  # a code is good once
        provider.exchanged.append({"code": code, "verifier": code_verifier})
        digest = hashlib.sha256(code_verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if (
            asked is None
            or grant_type != "authorization_code"
            or (client_id, redirect_uri) != (asked["client_id"], asked["redirect_uri"])
            or not secrets.compare_digest(challenge, asked["challenge"])
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        return JSONResponse(
            {"access_token": "opaque", "token_type": "Bearer", "id_token": provider.id_token(asked["nonce"])}
        )

    return app


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Provider, str]]:
    """The provider on 127.0.0.1, on a port of its own; its issuer is its own address."""
    provider = Provider(LocalIssuer("http://127.0.0.1", CLIENT))
    server = uvicorn.Server(uvicorn.Config(provider_app(provider), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "le fournisseur OIDC de test n'a pas démarré"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    provider.issuer.issuer = f"http://127.0.0.1:{port}"
    try:
        yield provider, provider.issuer.issuer
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def provider(served: tuple[Provider, str]) -> Iterator[Provider]:
    provider, _ = served
    yield provider
    # Each test starts from a well-behaved issuer.
    provider.subject, provider.claims, provider.nonce, provider.audience = "astreinte", {}, None, None
    provider.ttl_s, provider.key = 300, None
    provider.codes.clear()
    provider.exchanged.clear()


def settings_for(issuer: str, **more: Any) -> ConsoleSettings:
    given: dict[str, Any] = {
        "oidc_issuer": issuer,
        "oidc_jwks_url": f"{issuer}/jwks",
        "oidc_audience": CLIENT,
        "oidc_client_id": CLIENT,
        "oidc_operators": "astreinte",
    }
    return ConsoleSettings(**(given | more))


def console_client(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> TestClient:
    access = settings_for(provider.issuer.issuer, oidc_label="l'annuaire de test").access()
    return TestClient(create_app(Console(profiles, catalogue, access, FakeMetrics([]), FakeDlq([]))))


def start(client: TestClient, after: str = "/dlq") -> tuple[str, dict[str, list[str]]]:
    """The console's redirect to the issuer: its target and query."""
    answer = client.get("/connexion/oidc/debut", params={"suite": after}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    target = answer.headers["location"]
    return target, parse_qs(urlsplit(target).query)


def at_issuer(target: str) -> dict[str, str]:
    """The browser at the issuer: the user is logged in there, it sends the browser back with a code and the state."""
    back = httpx.get(target, follow_redirects=False)
    assert back.status_code == 302, back.text
    return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}


def test_the_login_page_offers_the_issuer(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> None:
    page = console_client(provider, profiles, catalogue).get("/connexion", params={"suite": "/dlq"}).text
    assert 'href="/connexion/oidc/debut?suite=%2Fdlq"' in page and "Se connecter avec l&#x27;annuaire de test" in page
    assert "Avec un jeton OIDC" in page  # the pasted token stays


def test_a_redirect_login_opens_a_session_with_the_tokens_role(
    provider: Provider, profiles: Profiles, catalogue: Catalogue
) -> None:
    client = console_client(provider, profiles, catalogue)
    target, query = start(client)
    assert target.startswith(f"{provider.issuer.issuer}/autoriser?")
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT]
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == ["http://testserver/connexion/oidc"]
    assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) >= 43 and query["state"] != query["nonce"]
    assert FLOW_COOKIE in client.cookies
    back = at_issuer(target)
    with captured_logs() as logs:
        landed = client.get("/connexion/oidc", params=back, follow_redirects=False)
    assert landed.status_code == 200 and '<meta http-equiv="refresh" content="0;url=/dlq">' in landed.text
    assert COOKIE in client.cookies and FLOW_COOKIE not in client.cookies
    assert "astreinte · opérateur (peut rejouer)" in client.get("/dlq").text
    [exchange] = provider.exchanged
    assert exchange["code"] == back["code"] and len(exchange["verifier"]) >= 43  # PKCE: the issuer checked it
    assert not [e for e in logs if back["code"] in str(e)]  # no code (nor token) in any log line
    assert next(e for e in logs if e["event"] == "console.connexion")["via"] == "OIDC"


def test_the_role_claim_gives_the_read_only_role(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> None:
    provider.subject, provider.claims = "dpo", {"roles": ["lecture"], "preferred_username": "dpo.region"}
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client, "/")
    assert client.get("/connexion/oidc", params=at_issuer(target)).status_code == 200
    assert "dpo.region · lecture seule" in client.get("/").text


def refused(client: TestClient, params: dict[str, str]) -> str:
    answer = client.get("/connexion/oidc", params=params, follow_redirects=False)
    assert answer.status_code == 401, answer.text
    assert COOKIE not in client.cookies and FLOW_COOKIE not in client.cookies
    assert client.get("/").status_code == 401
    return html.unescape(answer.text)


def test_a_wrong_state_is_refused_before_the_code_is_used(
    provider: Provider, profiles: Profiles, catalogue: Catalogue
) -> None:
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client)
    back = at_issuer(target)
    assert "état (state) inattendu" in refused(client, back | {"state": back["state"][:-2] + "xy"})
    assert provider.exchanged == []  # a forged answer costs the issuer nothing


def test_a_callback_without_its_flow_cookie_is_refused(
    provider: Provider, profiles: Profiles, catalogue: Catalogue
) -> None:
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client)
    back = at_issuer(target)
    client.cookies.clear()  # another browser: an attacker's code sent to a victim (login CSRF)
    assert "expirée ou commencée ailleurs" in refused(client, back)
    other = console_client(provider, profiles, catalogue)  # another console key: the cookie's signature fails
    forged = Pending.new("/", time.time()).seal(b"k" * 32)
    other.cookies.set(FLOW_COOKIE, forged, domain="testserver.local", path="/connexion/oidc")
    assert "expirée ou commencée ailleurs" in refused(other, back)


@pytest.mark.parametrize(
    ("wrong", "reason"),
    [
        ({"nonce": "nonce-d-une-autre-connexion"}, "nonce inattendu"),
        ({"audience": "passerelle-gateway"}, "audience inattendue"),
        ({"ttl_s": -60}, "expiré"),
        ({"key": "autre"}, "signature invalide"),
    ],
)
def test_a_bad_id_token_is_refused(
    provider: Provider, profiles: Profiles, catalogue: Catalogue, wrong: dict[str, Any], reason: str
) -> None:
    for name, value in wrong.items():
        setattr(provider, name, LocalIssuer(provider.issuer.issuer, CLIENT) if value == "autre" else value)
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client)
    with captured_logs() as logs:
        page = refused(client, at_issuer(target))
    assert f"jeton refusé : {reason}" in page
    assert next(e for e in logs if e["event"] == "console.oidc_refuse")["raison"].endswith(reason)


def test_a_token_without_a_role_is_refused(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> None:
    provider.subject = "quelquun"
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client)
    assert "sans rôle de console" in refused(client, at_issuer(target))


def test_a_code_refused_by_the_issuer_opens_nothing(
    provider: Provider, profiles: Profiles, catalogue: Catalogue
) -> None:
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client)
    back = at_issuer(target)
    assert "n'a pas échangé le code" in refused(client, back | {"code": "code-inconnu"})


def test_an_error_from_the_issuer_is_said(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> None:
    client = console_client(provider, profiles, catalogue)
    start(client)
    answer = client.get("/connexion/oidc", params={"error": "access_denied<script>", "state": "x"})
    assert answer.status_code == 401
    assert "L&#x27;émetteur a refusé la connexion (access_denied&lt;script&gt;)" in answer.text


def test_the_login_never_leaves_for_another_site(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> None:
    client = console_client(provider, profiles, catalogue)
    target, _ = start(client, "//ailleurs.example/x")
    landed = client.get("/connexion/oidc", params=at_issuer(target))
    assert 'content="0;url=/"' in landed.text


def test_discovery_must_name_its_issuer_and_use_tls() -> None:
    good = {
        "issuer": "https://idp.example",
        "authorization_endpoint": "https://idp.example/a",
        "token_endpoint": "https://idp.example/t",
    }
    assert Discovery.of("https://idp.example", good).token_endpoint == "https://idp.example/t"
    with pytest.raises(FlowRefused, match="autre émetteur"):
        Discovery.of("https://idp.example", good | {"issuer": "https://ailleurs.example"})
    with pytest.raises(FlowRefused, match="TLS"):
        Discovery.of("https://idp.example", good | {"token_endpoint": "http://idp.example/t"})
    with pytest.raises(FlowRefused, match="S256"):
        Discovery.of("https://idp.example", good | {"code_challenge_methods_supported": ["plain"]})


def test_an_unreachable_issuer_is_said(profiles: Profiles, catalogue: Catalogue, tmp_path: Path) -> None:
    issuer = LocalIssuer("http://127.0.0.1:9", CLIENT)  # the discard port: nothing answers
    access = settings_for(issuer.issuer, oidc_jwks_url=issuer.write_jwks(tmp_path / "jwks.json")).access()
    client = TestClient(create_app(Console(profiles, catalogue, access, FakeMetrics([]), FakeDlq([]))))
    answer = client.get("/connexion/oidc/debut", follow_redirects=False)
    assert answer.status_code == 502 and "injoignable" in answer.text


def test_a_flow_cookie_expires_and_is_bound_to_the_key() -> None:
    pending = Pending.new("/dlq", 1_000.0)
    sealed = pending.seal(b"a" * 32)
    assert Pending.unseal(sealed, b"a" * 32, 1_000.0 + 599) == pending
    assert Pending.unseal(sealed, b"a" * 32, 1_000.0 + 601) is None
    assert Pending.unseal(sealed, b"b" * 32, 1_000.0) is None
    # Never a session: the same key signs both, under different contexts.
    assert SessionSigner(b"a" * 32).read(sealed) is None


def test_settings_build_the_redirect_flow(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("secret-du-client\n", encoding="utf-8")
    login = settings_for("https://idp.example", oidc_client_secret_file=secret).access().login
    assert isinstance(login, OidcLogin) and login.label == "idp.example" and login.client_secret == "secret-du-client"
    assert "secret-du-client" not in repr(login)
    assert (
        ConsoleSettings(oidc_issuer="https://idp.example", oidc_jwks_url="https://idp.example/j").access().login is None
    )
    with pytest.raises(ValueError, match="OIDC_ISSUER manque"):
        ConsoleSettings(oidc_client_id=CLIENT)


def test_the_pasted_token_needs_no_redirect_flow(provider: Provider, profiles: Profiles, catalogue: Catalogue) -> None:
    verifier = OidcVerifier(
        provider.issuer.issuer, CLIENT, f"{provider.issuer.issuer}/jwks", operators=frozenset({"astreinte"})
    )
    access = ConsoleAccess(Accounts.of([]), oidc=verifier)
    client = TestClient(create_app(Console(profiles, catalogue, access, FakeMetrics([]), FakeDlq([]))))
    form = client.get("/connexion").text
    assert "/connexion/oidc/debut" not in form
    token = provider.issuer.mint("astreinte", audience=CLIENT)
    answer = client.post("/connexion/jeton", data={"csrf": csrf_of(form), "jeton": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/connexion/oidc/debut", follow_redirects=False).status_code == 404
    assert verifier.verify(token) == ("astreinte", Role.OPERATOR)
