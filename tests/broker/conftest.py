"""Real Apache Kafka for the tests: one node (``apache_kafka``) and a production-like three-node cluster
(``apache_cluster``), started once per session from the jars ``deploy/kafka/pom.xml`` pins."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from passerelle.broker.apache import KafkaCluster


@pytest.fixture(scope="session")
def apache_kafka_node() -> Iterator[KafkaCluster]:
    """The single Kafka node behind ``apache_kafka``, for tests that need its log or its process."""
    with KafkaCluster(nodes=1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def apache_kafka(apache_kafka_node: KafkaCluster) -> str:
    """Bootstrap address of one Apache Kafka node (internal topics on one replica, no auto-created topics)."""
    return apache_kafka_node.bootstrap


@pytest.fixture(scope="session")
def apache_cluster() -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes with the production settings (replication 3, min.insync.replicas 2).

    Tests that kill or stop nodes start them again before they end, so the next test finds three nodes.
    """
    with KafkaCluster(nodes=3) as cluster:
        yield cluster


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test shows the end of each Kafka node's log it ran against: the broker's side of the story."""
    report: pytest.TestReport = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("apache_kafka_node", "apache_cluster"):
            cluster = funcargs.get(name)
            if isinstance(cluster, KafkaCluster):
                report.sections.append((f"Kafka log ({name})", cluster.log_tail(lines=60)))
    return report
