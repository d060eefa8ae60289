"""The token check's caches: the JWKS file read again only when it changes, a verified token's claims kept until
its ``exp`` in a bounded cache, and every refusal still given (expired, wrong key, another issuer's key)."""

from __future__ import annotations

import os
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest

from passerelle.runtime.issuer import LocalIssuer
from services.gateway.auth import JwksFile, Refused, TokenVerifier, VerifiedTokens
from tests.gateway.conftest import AUDIENCE, ISSUER

PARTNERS = frozenset({"imilo", "region-24", "region-53"})


@dataclass
class CountedKeys:
    """The issuer's keys, counting the signature checks the verifier asks them for."""

    inner: JwksFile
    lookups: int = 0

    def key_for(self, token: str) -> Any:
        self.lookups += 1
        return self.inner.key_for(token)

    def version(self) -> Hashable:
        return self.inner.version()


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


def _keys(issuer: LocalIssuer, tmp_path: Path) -> CountedKeys:
    issuer.write_jwks(tmp_path / "jwks.json")
    return CountedKeys(JwksFile(tmp_path / "jwks.json"))


def _verifier(keys: CountedKeys, cache: VerifiedTokens | None = None) -> TokenVerifier:
    return TokenVerifier(keys, ISSUER, AUDIENCE, PARTNERS, VerifiedTokens() if cache is None else cache)


def _refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Refused) as refused:
        verifier.partner(f"Bearer {token}")
    assert refused.value.status == 401
    return refused.value.code


def test_the_same_token_is_verified_once_and_another_token_on_its_own(issuer: LocalIssuer, tmp_path: Path) -> None:
    keys = _keys(issuer, tmp_path)
    verifier = _verifier(keys)
    token = issuer.mint("imilo")
    assert [verifier.partner(f"Bearer {token}") for _ in range(5)] == ["imilo"] * 5
    assert keys.lookups == 1
    assert verifier.partner(f"Bearer {issuer.mint('region-24')}") == "region-24"
    assert keys.lookups == 2 and len(verifier.verified) == 2


def test_a_token_near_its_expiry_is_refused_once_expired_though_it_was_verified(
    issuer: LocalIssuer, tmp_path: Path
) -> None:
    verifier = _verifier(_keys(issuer, tmp_path))
    token = issuer.mint("imilo", now=time.time() - 299)  # 300 s of life: at most a second left
    assert verifier.partner(f"Bearer {token}") == "imilo"
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    assert _refusal(verifier, token) == "jeton_expire"
    assert len(verifier.verified) == 0


def test_the_cache_forgets_at_exp_by_its_own_clock(issuer: LocalIssuer, tmp_path: Path) -> None:
    clock = Clock()
    keys = _keys(issuer, tmp_path)
    verifier = _verifier(keys, VerifiedTokens(clock=clock))
    token = issuer.mint("imilo", ttl_s=60, now=clock.now)
    verifier.partner(f"Bearer {token}")
    clock.now += 59
    verifier.partner(f"Bearer {token}")
    assert keys.lookups == 1
    clock.now = int(clock.now) + 1  # exp itself: PyJWT refuses from that second on, so the cache must not answer
    verifier.partner(f"Bearer {token}")  # PyJWT's own clock still sees it valid: verified again, not answered
    assert keys.lookups == 2


def test_the_cache_is_bounded_least_recently_used_first(issuer: LocalIssuer, tmp_path: Path) -> None:
    keys = _keys(issuer, tmp_path)
    verifier = _verifier(keys, VerifiedTokens(capacity=2))
    first, second, third = (issuer.mint(p) for p in ("imilo", "region-24", "region-53"))
    for token in (first, second, first, third):  # second is now the least recently used
        verifier.partner(f"Bearer {token}")
    assert len(verifier.verified) == 2 and keys.lookups == 3
    verifier.partner(f"Bearer {first}")
    assert keys.lookups == 3
    verifier.partner(f"Bearer {second}")
    assert keys.lookups == 4 and len(verifier.verified) == 2


def test_refusals_are_never_cached(issuer: LocalIssuer, tmp_path: Path) -> None:
    keys = _keys(issuer, tmp_path)
    verifier = _verifier(keys)
    stranger = LocalIssuer(ISSUER, AUDIENCE)  # same names, another key: its tokens are forged for this gateway
    forged, expired = stranger.mint("imilo"), issuer.mint("imilo", now=0)
    for _ in range(2):
        assert _refusal(verifier, forged) == "jeton_refuse"
        assert _refusal(verifier, expired) == "jeton_expire"
        assert _refusal(verifier, issuer.mint("imilo", audience="autre")) == "audience_refusee"
        assert _refusal(verifier, "pas.un.jeton") == "jeton_refuse"
    assert len(verifier.verified) == 0


def test_the_jwks_file_is_read_again_only_when_it_changes(
    issuer: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    parse = jwt.PyJWKSet.from_json

    def counted(data: str) -> jwt.PyJWKSet:
        reads.append(data)
        return parse(data)

    monkeypatch.setattr(jwt.PyJWKSet, "from_json", staticmethod(counted))
    keys = _keys(issuer, tmp_path)
    verifier = _verifier(keys)
    for partner in sorted(PARTNERS):
        verifier.partner(f"Bearer {issuer.mint(partner)}")
    assert len(reads) == 1
    # The issuer's key replaced: the new key is seen at once, and a token of the old one is checked again, refused.
    old = issuer.mint("imilo")
    verifier.partner(f"Bearer {old}")
    rotated = LocalIssuer(ISSUER, AUDIENCE)
    rotated.write_jwks(keys.inner.path)
    stat = keys.inner.path.stat()
    os.utime(keys.inner.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock still moves
    assert verifier.partner(f"Bearer {rotated.mint('imilo')}") == "imilo"
    assert _refusal(verifier, old) == "jeton_refuse"
    assert len(reads) == 2
