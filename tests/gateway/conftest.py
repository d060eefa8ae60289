"""A gateway without a broker: its keys in memory, what it publishes kept, its tokens from a local issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passerelle.runtime.issuer import LocalIssuer
from passerelle.settings import Settings
from passerelle.stack.gateway import build_gateway
from services.gateway.app import Gateway, create_app
from services.gateway.idempotency import MemoryAnswers
from services.gateway.publish import MemoryPublisher

AUDIENCE = "passerelle-gateway"
ISSUER = "http://issuer.test"


@pytest.fixture(scope="session")
def issuer() -> LocalIssuer:
    return LocalIssuer(ISSUER, AUDIENCE)


@pytest.fixture
def gateway_settings(issuer: LocalIssuer, tmp_path: Path) -> Settings:
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    return Settings(gateway_issuer=ISSUER, gateway_audience=AUDIENCE, gateway_jwks_url=jwks, gateway_burst=1000)


@pytest.fixture
def gateway(gateway_settings: Settings) -> Gateway:
    return build_gateway(gateway_settings, MemoryAnswers(), MemoryPublisher())


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(create_app(gateway)) as http:
        yield http
