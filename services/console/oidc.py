"""OIDC login by redirection: authorization code with PKCE, ``state`` and ``nonce``, from the issuer's discovery.

The console is the issuer's client. ``/connexion/oidc/debut`` sends the browser to the authorization endpoint with
a fresh state, nonce and PKCE challenge, kept in a short-lived cookie signed with the session key (no server-side
store); ``/connexion/oidc`` checks the returned state against that cookie, exchanges the code and its verifier at
the token endpoint, then checks the ID token: signature by the issuer's JWKS, issuer, audience (the client id),
expiry and nonce. The role is read from the token as for a pasted one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from services.console.access import OidcVerifier, Role, TokenRefused, _b64, _unb64

DISCOVERY_PATH = "/.well-known/openid-configuration"
FLOW_COOKIE = "passerelle_console_oidc"
FLOW_PATH = "/connexion/oidc"
FLOW_TTL_S = 600  # time to log in at the issuer; a callback later than that starts over
_TIMEOUT_S = 5.0
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class FlowRefused(TokenRefused):
    """A redirect login the console does not complete; the message says why, in French, with no token in it."""


def _trusted(url: object) -> bool:
    # The code and the ID token travel there: TLS, except to an issuer on this very machine (tests, dev up).
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


@dataclass(frozen=True)
class Discovery:
    """What the console needs of ``<issuer>/.well-known/openid-configuration``."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str

    @classmethod
    def of(cls, issuer: str, document: Mapping[str, Any]) -> Discovery:
        if document.get("issuer") != issuer:  # OpenID Connect Discovery 4.3: the document names its own issuer
            raise FlowRefused("document de découverte d'un autre émetteur")
        authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
        if not _trusted(authorize) or not _trusted(token):
            raise FlowRefused("points de terminaison OIDC absents ou sans TLS")
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise FlowRefused("l'émetteur ne propose pas PKCE S256")
        return cls(issuer, str(authorize), str(token))


@dataclass(frozen=True)
class Pending:
    """One login under way: what the callback must find again, in the browser's flow cookie."""

    state: str
    nonce: str
    verifier: str = field(repr=False)
    after: str
    expires_s: float

    @classmethod
    def new(cls, after: str, now_s: float) -> Pending:
        # 64 characters for the PKCE verifier (RFC 7636: 43 to 128), 256 bits for state and nonce.
        return cls(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48), after, now_s + FLOW_TTL_S
        )

    @property
    def challenge(self) -> str:
        return _b64(hashlib.sha256(self.verifier.encode("ascii")).digest())

    def seal(self, key: bytes) -> str:
        body = {"s": self.state, "n": self.nonce, "v": self.verifier, "a": self.after, "e": int(self.expires_s)}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{_mac(key, payload)}"

    @classmethod
    def unseal(cls, cookie: str | None, key: bytes, now_s: float) -> Pending | None:
        if not cookie or "." not in cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, _mac(key, payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            pending = cls(str(body["s"]), str(body["n"]), str(body["v"]), str(body["a"]), float(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return pending if pending.expires_s > now_s else None


def _mac(key: bytes, payload: str) -> str:
    # Its own context: a flow cookie never reads as a session cookie signed by the same key, nor the reverse.
    return _b64(hmac.new(key, f"oidc:{payload}".encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True)
class OidcLogin:
    """The console as a client of ``issuer``: ``client_id`` is the ID token's audience; the checks are ``tokens``'."""

    issuer: str
    client_id: str
    tokens: OidcVerifier
    label: str
    client_secret: str | None = field(default=None, repr=False)  # a confidential client; unset, PKCE alone
    redirect_url: str | None = None  # as registered at the issuer; unset, the callback of the request's host
    scope: str = "openid profile"

    async def discover(self) -> Discovery:
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
                answer = await client.get(url)
                answer.raise_for_status()
                document = answer.json()
        except (httpx.HTTPError, ValueError):
            raise FlowRefused("émetteur OIDC injoignable ou document de découverte illisible") from None
        if not isinstance(document, dict):
            raise FlowRefused("document de découverte illisible")
        return Discovery.of(self.issuer, document)

    async def authorization_url(self, pending: Pending, redirect_uri: str) -> str:
        found = await self.discover()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scope,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in found.authorization_endpoint else "?"
        return f"{found.authorization_endpoint}{separator}{urlencode(query)}"

    async def finish(self, pending: Pending, state: str, code: str, redirect_uri: str) -> tuple[str, Role]:
        """The user and role of a callback, or FlowRefused: state, then the code's exchange, then the ID token."""
        if not state or not hmac.compare_digest(state, pending.state):  # another login's answer, or a forged one
            raise FlowRefused("connexion OIDC refusée : état (state) inattendu")
        if not code:
            raise FlowRefused("connexion OIDC refusée : pas de code d'autorisation")
        found = await self.discover()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
                answer = await client.post(found.token_endpoint, data=form, headers={"Accept": "application/json"})
                answer.raise_for_status()
                id_token = answer.json().get("id_token")
        except (httpx.HTTPError, ValueError, AttributeError):
            raise FlowRefused("connexion OIDC refusée : l'émetteur n'a pas échangé le code") from None
        if not isinstance(id_token, str) or not id_token:
            raise FlowRefused("connexion OIDC refusée : pas de jeton d'identité (id_token)")
        # The JWKS may be read over the network or from a file: off the event loop.
        return await asyncio.to_thread(self.tokens.verify, id_token, audience=self.client_id, nonce=pending.nonce)
