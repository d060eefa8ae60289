"""A failing Apache Kafka test shows its nodes' logs (the fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from passerelle.broker.apache import KafkaCluster


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
