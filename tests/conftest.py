"""Fixtures shared by every test: the contract catalogue and a real Kafka-protocol broker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from passerelle.broker.embedded import EmbeddedBroker, embedded_settings
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.partners import Profiles
from passerelle.core.privacy import Pseudonymiser
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.local import Stack

SHARED = PROJECT_ROOT.parent / "shared"
LHEO_FIXTURES = SHARED / "fixtures" / "lheo"
LHEO_XSD = SHARED / "reference" / "lheo-2.3.xsd"
TEST_SECRET = "secret-de-test"


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


@pytest.fixture(scope="session")
def lheo_fixtures() -> list[Path]:
    files = sorted(LHEO_FIXTURES.glob("*.xml"))
    if not files:
        pytest.fail(f"real LHEO feeds expected in {LHEO_FIXTURES} (the project's shared folder)")
    return files


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
    settings = Settings(kafka_bootstrap=kafka, pseudonym_secret=TEST_SECRET, batch_timeout_ms=10)  # type: ignore[arg-type]
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
