"""Fixtures shared by every test: the contract catalogue and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.apache import KafkaCluster
from passerelle.broker.embedded import EmbeddedBroker, embedded_settings
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.partners import Profiles
from passerelle.core.privacy import Pseudonymiser
from passerelle.runtime.audit import KeyPairFiles, write_key_pair
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.local import Stack
from passerelle.stack.rights import provision

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
def apache_kafka_node() -> Iterator[KafkaCluster]:
    """One Apache Kafka node from the Maven jars (internal topics on one replica, no auto-created topics)."""
    with KafkaCluster(nodes=1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def apache_kafka(apache_kafka_node: KafkaCluster) -> KafkaAccess:
    return apache_kafka_node.access


@pytest.fixture(scope="session")
def apache_cluster() -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes with the production settings (replication 3, min.insync.replicas 2).

    Tests that kill or stop nodes start them again before they end, so the next test finds three nodes.
    """
    with KafkaCluster(nodes=3) as cluster:
        yield cluster


BROKERS = ["tansu", "kafka"]


@pytest.fixture(scope="session", params=BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    """Every test over a broker runs on both: the embedded Tansu and a real Apache Kafka."""
    return str(request.param)


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest, broker_kind: str) -> Iterator[KafkaAccess]:
    """A real broker and the operator's access to it: PASSERELLE_KAFKA_*, else Tansu or Apache Kafka."""
    external = os.environ.get("PASSERELLE_KAFKA_BOOTSTRAP")
    if external:
        if broker_kind != BROKERS[0]:
            pytest.skip("PASSERELLE_KAFKA_BOOTSTRAP names the one broker to test")
        yield KafkaAccess.of(Settings())
        return
    if broker_kind == "kafka":
        yield request.getfixturevalue("apache_kafka")
        return
    with EmbeddedBroker() as broker:
        yield broker.access


@pytest.fixture(scope="session")
def audit_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    """One audit key pair for the session: a stack set up again on the same broker continues the same chain."""
    return write_key_pair(tmp_path_factory.mktemp("audit") / "cles")


@pytest.fixture(scope="session")
def kafka_settings(kafka: KafkaAccess, broker_kind: str, audit_keys: KeyPairFiles) -> Settings:
    """Settings pointing at the test broker (the embedded one gets its own fetch and session settings)."""
    settings = Settings(
        **kafka.settings_fields(),
        pseudonym_secret=TEST_SECRET,
        batch_timeout_ms=10,
        audit_signing_key_file=audit_keys.signing,
        audit_public_key_file=audit_keys.public,
        # The whole suite posts and reads as the same few partners: only the rate-limit tests meet the limits.
        gateway_burst=10_000,
    )
    external = "PASSERELLE_KAFKA_BOOTSTRAP" in os.environ
    return settings if external or broker_kind == "kafka" else embedded_settings(settings, kafka.bootstrap)


@pytest.fixture(scope="session")
async def stack(
    kafka_settings: Settings,
    broker_kind: str,
    catalogue: Catalogue,
    profiles: Profiles,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Stack]:
    """A whole Passerelle (every service and the registry) over the test broker, shared by the session.

    On Apache Kafka each service runs as its own principal, with only the rights ``passerelle acl apply`` gives it.
    """
    identities: dict[str, KafkaAccess] = {}
    if broker_kind == "kafka" and "PASSERELLE_KAFKA_BOOTSTRAP" not in os.environ:
        cluster: KafkaCluster = request.getfixturevalue("apache_kafka_node")
        await ensure_topics(cluster.access, topics.all_topics(profiles.ids, catalogue.subjects))
        identities = await asyncio.to_thread(provision, cluster, profiles.ids, kafka_settings)
    running = Stack(kafka_settings, identities=identities)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="session")
async def producer(kafka: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**kafka.aiokafka(), enable_idempotence=False)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
