"""Every service as its own process over the 3-node Apache Kafka cluster, for the fault tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.broker import topics
from passerelle.broker.admin import ensure_topics
from passerelle.broker.apache import KafkaCluster
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.audit import KeyPairFiles
from passerelle.settings import Settings
from passerelle.stack.processes import ProcessStack
from passerelle.stack.rights import provision
from tests.conftest import TEST_SECRET


class FaultSettings(BaseSettings):
    """The stream's size and pace: sized for CI by default, ``make faults`` runs the long version."""

    model_config = SettingsConfigDict(env_prefix="PASSERELLE_FAULT_")

    events: int = 2000
    rate: float = 250.0
    # Where each test appends its figures as a JSON line (make faults: for docs/reliability.md).
    report: Path | None = None

    def record(self, test: str, **figures: object) -> None:
        if self.report is not None:
            line = {"test": test, "events": self.events, "rate": self.rate, **figures}
            with self.report.open("ab") as out:
                out.write(orjson.dumps(line) + b"\n")


@pytest.fixture(scope="session")
def pace() -> FaultSettings:
    return FaultSettings()


@pytest.fixture(scope="module")
async def services(
    apache_cluster: KafkaCluster,
    catalogue: Catalogue,
    profiles: Profiles,
    audit_keys: KeyPairFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ProcessStack]:
    """The four services as deployed: own processes, topics replicated three times, transactions on."""
    access = apache_cluster.access
    await ensure_topics(access, topics.all_topics(profiles.ids, catalogue.subjects), replication_factor=3)
    env = {
        **access.environment(),
        "PASSERELLE_PSEUDONYM_SECRET": TEST_SECRET,
        "PASSERELLE_AUDIT_SIGNING_KEY_FILE": str(audit_keys.signing),
        "PASSERELLE_AUDIT_PUBLIC_KEY_FILE": str(audit_keys.public),
        "PASSERELLE_CREATE_TOPICS": "false",
        "PASSERELLE_LOG_LEVEL": "WARNING",
        # Kafka's smallest session (group.min.session.timeout.ms): a killed member's partitions move in 6 s.
        "PASSERELLE_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "PASSERELLE_FETCH_MAX_WAIT_MS": "100",
    }
    folder: Path = tmp_path_factory.mktemp("services")
    # As deployed: each service its own principal and only the rights the ACL policy gives it.
    identities = await asyncio.to_thread(provision, apache_cluster, profiles.ids, Settings(**access.settings_fields()))
    stack = ProcessStack(env, folder, identities=identities)
    stack.start()
    try:
        await stack.wait_ready(limit_s=180)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def cluster_producer(apache_cluster: KafkaCluster) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**apache_cluster.access.aiokafka(), acks="all", linger_ms=5)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
