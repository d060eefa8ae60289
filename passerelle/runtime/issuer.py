"""A local OAuth2 issuer for tests and ``passerelle dev up``: one RSA key pair, its JWKS, client-credentials tokens.

Production uses the organisation's own issuer; this one only stands in for it on a developer's machine, so the
partner gateway (and later the console) checks the same kind of token either way. Its public keys are written as
a JWKS file that the gateway reads through a ``file://`` URL, so no HTTP server is needed for a local stack.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
DEFAULT_TTL_S = 300  # client-credentials tokens are short-lived: a partner asks for a new one


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class LocalIssuer:
    """Signs access tokens for partners; ``issuer`` and ``audience`` are what the gateway is configured with."""

    issuer: str
    audience: str
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def jwks(self) -> dict[str, Any]:
        """The public half, as ``/.well-known/jwks.json`` serves it."""
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public |= {"kid": self.key_id, "use": "sig", "alg": ALGORITHM}
        return {"keys": [public]}

    def write_jwks(self, path: Path) -> str:
        """Write the JWKS to ``path``; the ``file://`` URL that names it (``PASSERELLE_GATEWAY_JWKS_URL``)."""
        path.write_text(json.dumps(self.jwks()), encoding="utf-8")
        return path.resolve().as_uri()

    def mint(
        self,
        client_id: str,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        now: float | None = None,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> str:
        """A client-credentials access token for ``client_id`` (the partner's id); the overrides make bad ones."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "sub": client_id,
            "client_id": client_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.key_id})
