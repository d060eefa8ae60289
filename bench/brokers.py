"""The broker a benchmark runs on: the embedded Tansu, or Apache Kafka with the production settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from passerelle.broker.access import KafkaAccess
from passerelle.broker.apache import PRODUCTION_HEAP, PRODUCTION_JVM_OPTIONS, KafkaCluster
from passerelle.broker.embedded import EmbeddedBroker, embedded_settings
from passerelle.settings import Settings

KINDS = ("tansu", "kafka")


@dataclass(frozen=True)
class BenchBroker:
    kind: str
    access: KafkaAccess
    # The broker processes, for their CPU share.
    pids: dict[str, int]
    replication: int

    @property
    def bootstrap(self) -> str:
        return self.access.bootstrap

    @property
    def label(self) -> str:
        if self.kind == "tansu":
            return "broker embarqué"
        return f"Apache Kafka, {self.replication} nœud(s), acks=all"

    @property
    def on_kafka(self) -> bool:
        """Apache Kafka, where the hops may run in transactions and a waiting fetch is answered on arrival."""
        return self.kind == "kafka"

    def settings(self, base: Settings) -> Settings:
        if self.kind == "tansu":
            return embedded_settings(base, self.bootstrap)
        return base.model_copy(update=self.access.settings_fields())


@contextlib.contextmanager
def bench_broker(kind: str, quick: bool) -> Iterator[BenchBroker]:
    """A fresh broker for one benchmark: Tansu, or Apache Kafka on 3 nodes (1 node with ``--quick``)."""
    if kind == "tansu":
        with EmbeddedBroker() as broker:
            yield BenchBroker(kind, broker.access, {"tansu": broker.pid or 0}, 1)
        return
    if kind != "kafka":
        raise ValueError(f"broker inconnu : {kind} ({', '.join(KINDS)})")
    nodes = 1 if quick else 3
    with KafkaCluster(nodes=nodes, heap=PRODUCTION_HEAP, jvm_options=PRODUCTION_JVM_OPTIONS) as cluster:
        pids = {f"kafka-{n.node_id}": n.process.pid for n in cluster.nodes if n.process is not None}
        yield BenchBroker(kind, cluster.access, pids, nodes)
