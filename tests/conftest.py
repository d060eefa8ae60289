"""Fixtures shared by every test: the contract catalogue and a real Kafka-protocol broker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.broker.embedded import EmbeddedBroker, embedded_settings
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.partners import Profiles
from passerelle.core.privacy import Pseudonymiser
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.local import Stack

TEST_SECRET = "secret-de-test"
OWN_LHEO = Path(__file__).parent / "fixtures" / "lheo"


class TestSettings(BaseSettings):
    """Where the tests find what the repository does not carry (``PASSERELLE_SHARED_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="PASSERELLE_")

    # The project's shared folder: real Carif-Oref LHEO feeds (fixtures/lheo) and the official XSD (reference/).
    shared_dir: Path | None = None

    @property
    def lheo_feeds(self) -> list[Path]:
        return sorted((self.shared_dir / "fixtures" / "lheo").glob("*.xml")) if self.shared_dir else []

    @property
    def lheo_xsd(self) -> Path | None:
        xsd = self.shared_dir / "reference" / "lheo-2.3.xsd" if self.shared_dir else None
        return xsd if xsd and xsd.is_file() else None


TEST_SETTINGS = TestSettings()
NO_SHARED = "no shared folder: set PASSERELLE_SHARED_DIR to the folder holding fixtures/lheo and reference/"


def real_lheo_feeds() -> list[Path]:
    """The real feeds, or a skip that says why (the repository does not carry them)."""
    feeds = TEST_SETTINGS.lheo_feeds
    if not feeds:
        pytest.skip(f"real LHEO feeds absent ({NO_SHARED})")
    return feeds


def lheo_xsd() -> Path:
    xsd = TEST_SETTINGS.lheo_xsd
    if xsd is None:
        pytest.skip(f"official LHEO 2.3 XSD absent ({NO_SHARED})")
    return xsd


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    return PROJECT_ROOT / "schemas" / "avro"


@pytest.fixture(scope="session")
def catalogue(schemas_dir: Path) -> Catalogue:
    return Catalogue.load(schemas_dir)


@pytest.fixture(scope="session")
def codec(catalogue: Catalogue) -> AvroCodec:
    return AvroCodec(catalogue)


@pytest.fixture(scope="session")
def typed(catalogue: Catalogue) -> TypedContracts:
    return TypedContracts(catalogue)


@pytest.fixture(scope="session")
def profiles(catalogue: Catalogue) -> Profiles:
    return Profiles.load(PROJECT_ROOT / "contracts" / "partners", frozenset(catalogue.subjects))


@pytest.fixture(scope="session")
def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(TEST_SECRET.encode())


@pytest.fixture(scope="session", params=["depot", "flux-reels"])
def lheo_fixtures(request: pytest.FixtureRequest) -> list[Path]:
    """LHEO feeds: the repository's own small ones always, then the real Carif-Oref feeds when present."""
    if request.param == "depot":
        return sorted(OWN_LHEO.glob("*.xml"))
    return real_lheo_feeds()


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap address of a real broker: PASSERELLE_KAFKA_BOOTSTRAP, else an embedded Tansu."""
    external = os.environ.get("PASSERELLE_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def kafka_settings(kafka: str) -> Settings:
    """Settings pointing at the test broker (idempotence off on the embedded one)."""
    settings = Settings(kafka_bootstrap=kafka, pseudonym_secret=TEST_SECRET, batch_timeout_ms=10)
    return settings if "PASSERELLE_KAFKA_BOOTSTRAP" in os.environ else embedded_settings(settings, kafka)


@pytest.fixture(scope="session")
async def stack(kafka_settings: Settings) -> AsyncIterator[Stack]:
    """A whole Passerelle (every service and the registry) over the test broker, shared by the session."""
    running = Stack(kafka_settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="session")
async def producer(kafka: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=False)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
