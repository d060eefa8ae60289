"""Who may use the console: local accounts (scrypt hashes), signed session cookies, CSRF tokens, OIDC tokens.

Two roles: ``operateur`` may replay dead letters; ``lecture`` (data-protection officer, auditors) reads only.
A session is a cookie signed with HMAC-SHA256 under a key of the console's own; its CSRF token is derived from
the session, so a form posted from another site, which cannot read the cookie, cannot carry it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import jwt
from jwt import PyJWKClient

from passerelle.runtime.operator import OperatorCredential

if TYPE_CHECKING:  # the redirect flow builds on this module's verifier
    from services.console.oidc import OidcLogin

COOKIE = "passerelle_console"
DEFAULT_SESSION_S = 8 * 3600  # one working day on call, then log in again
# scrypt's cost: about 50 ms and 16 MiB per check, the password-storage guidance's minimum.
_N, _R, _P = 2**14, 8, 1
_SCHEME = "scrypt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Role(str, Enum):
    OPERATOR = "operateur"
    READER = "lecture"

    @property
    def label(self) -> str:
        return "opérateur (peut rejouer)" if self is Role.OPERATOR else "lecture seule"


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash``, base64 parts: what an accounts file holds, never the password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024)
    parts = (_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(derived))
    return "$".join(parts)


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != _SCHEME:
            return False
        derived = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(derived, _unb64(expected))


@dataclass(frozen=True)
class Account:
    user: str
    role: Role
    password_hash: str = field(repr=False)


# A known hash checked when the user does not exist, so timing does not tell which user names exist.
_DECOY = hash_password("", b"\0" * 16)


@dataclass(frozen=True)
class Accounts:
    by_user: Mapping[str, Account]

    @classmethod
    def of(cls, accounts: Iterable[Account]) -> Accounts:
        return cls({a.user: a for a in accounts})

    @classmethod
    def parse(cls, text: str, source: str = "comptes") -> Accounts:
        """``utilisateur:role:scrypt$…`` per line; ``#`` comments and blank lines ignored."""
        accounts = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, _, rest = line.partition(":")
            role, _, stored = rest.partition(":")
            if not user or role not in {r.value for r in Role} or not stored.startswith(_SCHEME + "$"):
                raise ValueError(f"{source}, ligne {number} : attendu « utilisateur:operateur|lecture:scrypt$… »")
            accounts.append(Account(user, Role(role), stored))
        return cls.of(accounts)

    @classmethod
    def from_credentials(cls, credentials: Mapping[Role, Iterable[OperatorCredential]]) -> Accounts:
        """Accounts for credentials held in memory (a local stack's), hashed like the ones of a file."""
        return cls.of(
            Account(c.user, role, hash_password(c.password.get_secret_value()))
            for role, creds in credentials.items()
            for c in creds
        )

    def check(self, user: str, password: str) -> Role | None:
        account = self.by_user.get(user)
        matches = password_matches(password, account.password_hash if account else _DECOY)
        return account.role if account and matches else None

    def __bool__(self) -> bool:
        return bool(self.by_user)


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    nonce: str
    expires_s: float
    via: str  # "compte local", "OIDC" or "HTTP Basic": shown on the page and in the replay journal

    @property
    def may_replay(self) -> bool:
        return self.role is Role.OPERATOR


@dataclass(frozen=True)
class SessionSigner:
    """Signs and reads the session cookie; a key of 32 random bytes unless one is configured (then shared)."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    ttl_s: int = DEFAULT_SESSION_S
    clock: Callable[[], float] = time.time

    def issue(self, user: str, role: Role, via: str) -> tuple[str, Session]:
        session = Session(user, role, secrets.token_urlsafe(16), self.clock() + self.ttl_s, via)
        body = {"u": user, "r": role.value, "n": session.nonce, "e": int(session.expires_s), "v": via}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or "." not in cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            session = Session(str(body["u"]), Role(body["r"]), str(body["n"]), float(body["e"]), str(body["v"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        return session if session.expires_s > self.clock() else None

    def csrf(self, session: Session) -> str:
        """The token every form of this session carries; bound to the session's nonce."""
        return hmac.new(self.key, f"csrf:{session.nonce}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(session), token or "")

    def login_csrf(self, pre: str) -> str:
        """The login form's token, bound to a random pre-session cookie (no session exists yet)."""
        return hmac.new(self.key, f"connexion:{pre}".encode(), hashlib.sha256).hexdigest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("ascii"), hashlib.sha256).digest())


class TokenRefused(ValueError):
    """An OIDC token the console does not accept; the message says why, in French."""


@dataclass(frozen=True)
class OidcVerifier:
    """Checks an OIDC access or ID token: signature by the issuer's JWKS, issuer, audience, expiry, then a role.

    The role comes from ``role_claim`` (a string or a list naming ``operateur`` or ``lecture``); a token without
    one gets the role its subject is listed under, else it is refused.
    """

    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "roles"
    operators: frozenset[str] = frozenset()
    readers: frozenset[str] = frozenset()
    # One client for the issuer's https JWKS: it keeps the keys between logins and fetches again on a new kid.
    _remote: PyJWKClient | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.jwks_url.startswith("file://"):
            object.__setattr__(self, "_remote", PyJWKClient(self.jwks_url, cache_keys=True))

    def verify(self, token: str, *, audience: str | None = None, nonce: str | None = None) -> tuple[str, Role]:
        """A pasted or bearer token; with ``nonce``, an ID token of the redirect flow, ``audience`` its client id."""
        wanted = audience or self.audience
        required = ["exp", "iss", "aud", "sub"] + (["iat", "nonce"] if nonce is not None else [])
        try:
            key = self._signing_key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256", "ES256", "PS256", "EdDSA"],
                audience=wanted,
                issuer=self.issuer,
                options={"require": required},
            )
        except jwt.PyJWTError as error:
            raise TokenRefused(f"jeton refusé : {_why(error)}") from None
        if nonce is not None:
            if not hmac.compare_digest(str(claims["nonce"]), nonce):  # an ID token of another login, replayed here
                raise TokenRefused("jeton refusé : nonce inattendu")
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            if len(audiences) > 1 and claims.get("azp") != wanted:  # OIDC Core 3.1.3.7: several audiences, azp
                raise TokenRefused("jeton refusé : audience inattendue")
        subject = str(claims.get("preferred_username") or claims["sub"])
        role = self._role(claims.get(self.role_claim), str(claims["sub"]))
        if role is None:
            raise TokenRefused(f"jeton valide mais sans rôle de console pour {subject}")
        return subject, role

    def _role(self, claimed: object, subject: str) -> Role | None:
        names = {claimed} if isinstance(claimed, str) else set(claimed) if isinstance(claimed, list) else set()
        if Role.OPERATOR.value in names or subject in self.operators:
            return Role.OPERATOR
        if Role.READER.value in names or subject in self.readers:
            return Role.READER
        return None

    def _signing_key(self, token: str) -> Any:
        if self.jwks_url.startswith("file://"):  # the local issuer writes its JWKS to a file (dev up, tests)
            with urllib.request.urlopen(self.jwks_url, timeout=5) as answer:  # noqa: S310 - file:// only here
                jwks = jwt.PyJWKSet.from_dict(json.loads(answer.read()))
            kid = jwt.get_unverified_header(token).get("kid")
            for candidate in jwks.keys:
                if candidate.key_id == kid:
                    return candidate.key
            raise jwt.PyJWKClientError(f"aucune clé {kid} dans le JWKS")
        assert self._remote is not None
        return self._remote.get_signing_key_from_jwt(token).key


def _why(error: jwt.PyJWTError) -> str:
    reasons: list[tuple[type[jwt.PyJWTError], str]] = [
        (jwt.ExpiredSignatureError, "expiré"),
        (jwt.InvalidAudienceError, "audience inattendue"),
        (jwt.InvalidIssuerError, "émetteur inattendu"),
        (jwt.InvalidSignatureError, "signature invalide"),
        (jwt.MissingRequiredClaimError, "attribut requis absent"),
        (jwt.PyJWKClientError, "clé de signature inconnue"),
    ]
    return next((text for kind, text in reasons if isinstance(error, kind)), "illisible")


@dataclass(frozen=True)
class ConsoleAccess:
    """Everything that decides who is let in: accounts, the session signer, OIDC, and HTTP Basic for scripts."""

    accounts: Accounts
    sessions: SessionSigner = field(default_factory=SessionSigner)
    oidc: OidcVerifier | None = None
    # The « Se connecter avec … » button: authorization code with PKCE at the same issuer, checked by ``oidc``.
    login: OidcLogin | None = None
    # Scripts (curl, monitoring) read pages with HTTP Basic against the same accounts; they never post a form.
    basic: bool = True
    secure_cookie: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.accounts) or self.oidc is not None


def main(argv: list[str] | None = None) -> int:
    """``python -m services.console.access UTILISATEUR ROLE`` reads a password on stdin, prints an accounts line."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[1] not in {r.value for r in Role}:
        sys.stderr.write("usage : python -m services.console.access UTILISATEUR operateur|lecture < mot-de-passe\n")
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        sys.stderr.write("mot de passe vide\n")
        return 2
    sys.stdout.write(f"{args[0]}:{args[1]}:{hash_password(password)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
