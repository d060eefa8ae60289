"""Who is calling: an OAuth2 client-credentials access token (a JWT) from the configured issuer.

The token's ``client_id`` (else its ``azp``, else its ``sub``) is the partner's id; the issuer, the audience and
the expiry are checked, and the signature with the issuer's public keys (JWKS). A partner then publishes only as
itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

import jwt

ALGORITHMS = ["RS256", "ES256", "EdDSA"]
REALM = 'Bearer realm="passerelle"'
VERIFIED_TOKENS = 4096  # a few per partner and replica at most: the cache's memory stays a few megabytes


class Refused(Exception):
    """A request the gateway turns away before reading it: the HTTP status, the French reason, the headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class SigningKeys(Protocol):
    """The issuer's public keys: the one that signed ``token``."""

    def key_for(self, token: str) -> Any: ...

    def version(self) -> Hashable:
        """Changes when the keys do: a token verified under other keys is verified again."""
        ...


@dataclass(frozen=True)
class JwksKeys:
    """Keys read from the issuer's ``https://`` JWKS URL, cached and fetched again for an unknown key id."""

    client: jwt.PyJWKClient

    def key_for(self, token: str) -> Any:
        return self.client.get_signing_key_from_jwt(token).key

    def version(self) -> Hashable:
        # The client refreshes its keys on its own rule (lifespan, unknown kid); a verified token lives to its exp.
        return None


@dataclass
class JwksFile:
    """Keys read from a JWKS file (a local issuer's): read again when the file changes, so a new key is seen at once."""

    path: Path
    _read: tuple[Hashable, list[jwt.PyJWK]] | None = field(default=None, repr=False, compare=False)

    def version(self) -> Hashable:
        # Time, size and inode: a rewrite in place and a file renamed over it both change one of them.
        stat = self.path.stat()
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def key_for(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys():
            if kid is None or key.key_id == kid:
                return key.key
        raise jwt.InvalidTokenError("clé de signature inconnue")

    def _keys(self) -> list[jwt.PyJWK]:
        version = self.version()
        if self._read is None or self._read[0] != version:
            self._read = (version, jwt.PyJWKSet.from_json(self.path.read_text(encoding="utf-8")).keys)
        return self._read[1]


@dataclass(frozen=True)
class _Verified:
    claims: dict[str, Any]
    expires: int  # the token's exp, as PyJWT reads it: valid while the clock is below it
    keys: Hashable  # the signing keys' version it was verified under


@dataclass
class VerifiedTokens:
    """The claims of tokens already verified, by exact token string, each until its ``exp``; the least recently
    used goes first past ``capacity``. A partner sends the same token for minutes: one signature check, not one
    per request."""

    capacity: int = VERIFIED_TOKENS
    clock: Callable[[], float] = time.time
    _entries: OrderedDict[str, _Verified] = field(default_factory=OrderedDict, repr=False)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, keys: Hashable) -> dict[str, Any] | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self.clock() >= entry.expires or entry.keys != keys:
            del self._entries[token]  # verified again, so an expired token gets its own refusal
            return None
        self._entries.move_to_end(token)
        return entry.claims

    def put(self, token: str, claims: dict[str, Any], keys: Hashable) -> None:
        self._entries[token] = _Verified(claims, int(claims["exp"]), keys)
        self._entries.move_to_end(token)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)


def signing_keys(url: str) -> SigningKeys:
    """``https://…/jwks.json`` (the issuer's), or ``file://…`` (a local issuer's JWKS file)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return JwksFile(Path(url2pathname(parsed.path)))
    return JwksKeys(jwt.PyJWKClient(url, cache_keys=True, lifespan=300))


def _unauthorized(code: str, message: str, error: str | None = "invalid_token") -> Refused:
    challenge = f'{REALM}, error="{error}"' if error else REALM
    return Refused(401, code, message, {"WWW-Authenticate": challenge})


@dataclass(frozen=True)
class TokenVerifier:
    keys: SigningKeys | None
    issuer: str
    audience: str
    partners: Collection[str]
    verified: VerifiedTokens = field(default_factory=VerifiedTokens, compare=False, repr=False)

    def partner(self, authorization: str | None) -> str:
        """The partner the bearer token was issued to, or a ``Refused`` 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("jeton_absent", "jeton d'accès requis (Authorization: Bearer …)", None)
        if self.keys is None:
            raise _unauthorized("jeton_refuse", "aucun émetteur de jetons n'est configuré sur la passerelle")
        claims = self._claims(token.strip())
        # RFC 9068 names the client ``client_id``; some providers only say ``azp``, or put it in ``sub``.
        partner = claims.get("client_id") or claims.get("azp") or claims.get("sub")
        if not isinstance(partner, str) or partner not in self.partners:
            raise _unauthorized("client_inconnu", "le jeton ne désigne aucun partenaire connu (client_id)")
        return partner

    def _claims(self, token: str) -> dict[str, Any]:
        assert self.keys is not None
        version = self.keys.version()
        known = self.verified.get(token, version)
        if known is not None:
            return known
        try:
            key = self.keys.key_for(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("jeton_expire", "jeton d'accès expiré : demandez-en un nouveau") from exc
        except jwt.InvalidAudienceError as exc:
            raise _unauthorized("audience_refusee", "jeton émis pour un autre destinataire (aud)") from exc
        except jwt.InvalidIssuerError as exc:
            raise _unauthorized("emetteur_refuse", "jeton émis par un émetteur inconnu (iss)") from exc
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise _unauthorized("jeton_refuse", "jeton d'accès illisible ou mal signé") from exc
        self.verified.put(token, claims, version)
        return claims


def publishing_as(caller: str, partner: str) -> None:
    """A partner publishes in its own name only: a 403 otherwise."""
    if caller != partner:
        raise Refused(403, "origine_usurpee", f"{caller} ne peut pas publier au nom de {partner}")
