"""An operator's HTTP Basic credential: one user name and password, compared in constant time.

Moved here from the registry so that every operator-facing service (registry, console) shares one class
without a service importing another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

GENERATED_USER = "operateur"


def password_in(path: Path) -> SecretStr:
    """The password a secret file holds; a trailing newline from echo or an editor is not part of it."""
    password = path.read_text(encoding="utf-8").strip("\r\n")
    if not password:
        raise ValueError(f"{path} est vide : le mot de passe de l'opérateur est requis")
    return SecretStr(password)


def challenge(realm: str) -> dict[str, str]:
    """The ``WWW-Authenticate`` header a 401 carries, so a browser asks for the credential."""
    return {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}


@dataclass(frozen=True)
class OperatorCredential:
    """The one user name and password allowed in; the password never shows in a repr or a log."""

    user: str
    password: SecretStr

    def __post_init__(self) -> None:
        if not self.user or ":" in self.user:
            raise ValueError("le nom de l'opérateur ne peut être vide ni contenir « : » (HTTP Basic)")
        if not self.password.get_secret_value():
            raise ValueError("le mot de passe de l'opérateur ne peut être vide")

    @classmethod
    def generate(cls, user: str = GENERATED_USER) -> OperatorCredential:
        """A fresh random credential, for a local stack that has none configured."""
        return cls(user, SecretStr(secrets.token_urlsafe(32)))

    @property
    def user_info(self) -> str:
        """``user:password``, as confluent-kafka's ``basic.auth.user.info`` and ``curl -u`` take it."""
        return f"{self.user}:{self.password.get_secret_value()}"

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value a client sends."""
        return "Basic " + base64.b64encode(self.user_info.encode("utf-8")).decode("ascii")

    def accepts(self, authorization: str | None) -> bool:
        given = parse_basic(authorization)
        if given is None:
            return False
        user, password = given
        # Both compared in full, whatever the first says, so timing tells neither which part was wrong.
        same_user = hmac.compare_digest(_digest(user), _digest(self.user))
        same_password = hmac.compare_digest(_digest(password), _digest(self.password.get_secret_value()))
        return same_user & same_password


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """User name and password of an ``Authorization: Basic …`` header; None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _digest(text: str) -> bytes:
    # Equal-length digests: compare_digest would otherwise reveal the expected secret's length.
    return hashlib.sha256(text.encode("utf-8")).digest()
