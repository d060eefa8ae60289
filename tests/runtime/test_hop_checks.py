"""A hop's periodic checks ask the cluster on a client of their own, never on the consumer.

Kafka answers a connection's requests in order, so on the consumer's connections a metadata or watermark
request waits behind a fetch the broker holds up to ``fetch.wait.max.ms``; the loop stood still meanwhile
(``python -m bench.hop_gaps`` measures both clients).
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin._metadata import ClusterMetadata, PartitionMetadata, TopicMetadata

from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import BROKER_DOWN, Hop, HopSpec
from passerelle.settings import Settings

SPEC = HopSpec("region_adapter", ["in.region-24"], ["feedback.region-24", "dlq.region_adapter"])


def _cluster(leaders: dict[str, int]) -> ClusterMetadata:
    cluster = ClusterMetadata()
    for name, leader in leaders.items():
        partition = PartitionMetadata()
        partition.id, partition.leader, partition.replicas, partition.isrs = 0, leader, [1, 2, 3], [1, 2, 3]
        topic = TopicMetadata()
        topic.topic, topic.partitions = name, {0: partition}
        cluster.topics[name] = topic
    return cluster


class _Lookout:
    """Answers metadata, and a watermark from every leader but those listed as silent."""

    def __init__(self, leaders: dict[str, int], silent: frozenset[int] = frozenset()) -> None:
        self.cluster, self.silent = _cluster(leaders), silent
        self.asked: list[str] = []

    def list_topics(self, timeout: float) -> ClusterMetadata:
        self.asked.append("metadata")
        return self.cluster

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float, cached: bool) -> tuple[int, int] | None:
        self.asked.append(tp.topic)
        leader = self.cluster.topics[tp.topic].partitions[tp.partition].leader
        return None if leader in self.silent else (0, 0)


class _FetchingConsumer:
    """The hop's consumer: only what it knows locally may be asked of it."""

    def list_topics(self, **_: Any) -> None:
        raise AssertionError("metadata asked on the consumer: it waits behind the consumer's fetch")

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float = 0, cached: bool = False) -> tuple[int, int]:
        assert cached, "a watermark asked of the broker on the consumer waits behind its fetch"
        return (0, 0)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("in.region-24", 0)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, 0) for tp in partitions]


def _hop(lookout: _Lookout) -> Hop:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x")
    hop = Hop(SPEC, object(), settings, ServiceMetrics("controles"))  # type: ignore[arg-type]
    hop._lookout = lookout  # type: ignore[assignment]
    hop.ready = True
    hop._last_probe = hop._last_progress = 1e12  # recent: an idle hop would not probe its writes now
    return hop


def test_the_checks_ask_the_cluster_on_the_lookout_and_only_local_figures_of_the_consumer() -> None:
    lookout = _Lookout({"in.region-24": 1, "feedback.region-24": 2, "dlq.region_adapter": 3})
    hop = _hop(lookout)
    hop.trouble = BROKER_DOWN
    hop._maybe_check(_FetchingConsumer())  # type: ignore[arg-type]
    assert lookout.asked[0] == "metadata" and len(lookout.asked) == 4  # one watermark per leader
    assert hop.trouble is None


def test_a_leader_silent_to_the_lookout_is_reported() -> None:
    lookout = _Lookout({"in.region-24": 1, "feedback.region-24": 2, "dlq.region_adapter": 2}, frozenset({2}))
    hop = _hop(lookout)
    hop._maybe_check(_FetchingConsumer())  # type: ignore[arg-type]
    assert hop.trouble == BROKER_DOWN


class _Unanswered(_Lookout):
    def list_topics(self, timeout: float) -> ClusterMetadata:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT))


def test_a_slow_metadata_answer_is_no_outage_while_batches_commit() -> None:
    hop = _hop(_Unanswered({}))
    hop._last_progress = time.monotonic()  # a batch has just been committed: a broker answered
    hop._maybe_check(_FetchingConsumer())  # type: ignore[arg-type]
    assert not hop._all_down.is_set()
    hop._last_check, hop._last_progress = 0.0, time.monotonic() - 60
    hop._maybe_check(_FetchingConsumer())  # type: ignore[arg-type]
    assert hop._all_down.is_set()  # nothing committed lately and no answer: the loop starts again
