"""librdkafka (confluent-kafka) clients for the hops: their configuration, and what the broker can do.

One place builds every hop's consumer and producer configuration from the
settings, so the delivery guarantees (acks, idempotence, isolation) and later
the security settings are written once.
"""

from __future__ import annotations

import logging
import time
import uuid
from enum import Enum
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.settings import Settings

log = structlog.get_logger("passerelle.sonde")
# librdkafka's lines go through the standard logging, so they are folded and formatted like every other line.
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")


class Guarantee(str, Enum):
    """How a hop makes each input's effect happen once."""

    # Outputs, audit records and consumed offsets in one Kafka transaction; readers read_committed.
    TRANSACTIONS = "transactions"
    # Offsets committed after every output is acknowledged; inputs already done are skipped (ce_id).
    ACK_THEN_COMMIT = "ack_puis_commit"


# How often a consumer asks the cluster's metadata on its own.
METADATA_REFRESH_MS = 5000


def consumer_config(settings: Settings, group_id: str, *, read_committed: bool) -> dict[str, Any]:
    return {
        **KafkaAccess.of(settings).librdkafka(),
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed" if read_committed else "read_uncommitted",
        "fetch.wait.max.ms": settings.fetch_max_wait_ms,
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": settings.consumer_session_timeout_ms,
        "heartbeat.interval.ms": max(500, settings.consumer_session_timeout_ms // 3),
        # A subscribed topic that does not exist yet (a broker back empty, before the services create it again)
        # is joined once the metadata shows it: every few seconds, not at librdkafka's default of 5 minutes.
        "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
        "logger": LIBRDKAFKA_LOG,
    }


def lookout_config(settings: Settings, service: str) -> dict[str, Any]:
    """A client that never subscribes nor fetches: metadata and watermark requests on it are answered at once,
    where on a consumer's connections they would queue behind its long-polling fetches. librdkafka wants a group
    for any consumer; this one joins none, and its name is one the service's rights already cover."""
    return {
        **KafkaAccess.of(settings).librdkafka(),
        "group.id": f"{PROBE_PREFIX}vigie.{service}",
        "enable.auto.commit": False,
        "logger": LIBRDKAFKA_LOG,
    }


def producer_config(
    settings: Settings, *, max_message_bytes: int, transactional_id: str | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        **KafkaAccess.of(settings).librdkafka(),
        "acks": settings.producer_acks,
        "enable.idempotence": settings.producer_idempotence or transactional_id is not None,
        "linger.ms": settings.producer_linger_ms,
        # Larger records are refused at produce(), before they could fail a whole batch at the broker.
        "message.max.bytes": max_message_bytes,
        "logger": LIBRDKAFKA_LOG,
    }
    if transactional_id:
        config["transactional.id"] = transactional_id
        # A crashed instance's open transaction holds read_committed readers back until it times out.
        config["transaction.timeout.ms"] = settings.transaction_timeout_ms
    return config


# The probe's consumer group and transactional id: one of each per probe, all starting with this.
PROBE_PREFIX = "passerelle.sonde."

# What a broker answers when it will not do transactions at all (or not for this client).
_REFUSALS = frozenset(
    {
        KafkaError.UNSUPPORTED_VERSION,
        KafkaError._UNSUPPORTED_FEATURE,
        KafkaError._NOT_IMPLEMENTED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.INVALID_TRANSACTION_TIMEOUT,
    }
)


def refuses_transactions(error: KafkaError) -> bool:
    """Whether the broker will not do transactions at all (or not for this client), rather than not yet."""
    return error.code() in _REFUSALS


def probe_guarantee(settings: Settings, timeout_s: float = 60.0, attempts: int = 10) -> Guarantee:
    """Transactions when the broker really has them (see ``_probe``); a broker still starting (its transaction
    log not yet created: « not coordinator ») is asked again."""
    if settings.transactions == "off":
        return Guarantee.ACK_THEN_COMMIT
    for attempt in range(1, attempts + 1):
        try:
            return _probe(settings, timeout_s)
        except KafkaException as exc:
            LIBRDKAFKA_LOG.warning("sonde des transactions, essai %d : %s", attempt, exc.args[0])
            time.sleep(min(attempt, 5))
    return Guarantee.ACK_THEN_COMMIT


def _probe(settings: Settings, timeout_s: float) -> Guarantee:
    """Ask the broker, not a flag: write a record in a transaction, abort it, and see if a read_committed
    reader still gets it. A broker that implements transactions hides it; one that only answers the calls
    does not, and one that refuses them says so."""
    marker = uuid.uuid4().hex.encode()
    probe = topics.PROBE_TOPIC
    reader = Consumer(consumer_config(settings, PROBE_PREFIX + marker.decode(), read_committed=True))
    try:
        found = reader.list_topics(probe, timeout=timeout_s).topics.get(probe)
        if found is None or found.error is not None:
            log.warning("sonde.topic_absent", topic=probe, erreur=str(found.error if found else None))
            return Guarantee.ACK_THEN_COMMIT  # nobody created it: the broker cannot be asked
        _, start = reader.get_watermark_offsets(TopicPartition(probe, 0), timeout=timeout_s)
        producer = Producer(
            producer_config(settings, max_message_bytes=100_000, transactional_id=PROBE_PREFIX + marker.decode())
        )
        producer.init_transactions(timeout_s)
        producer.begin_transaction()
        producer.produce(probe, b"annule:" + marker)
        producer.abort_transaction(timeout_s)
        producer.begin_transaction()
        producer.produce(probe, b"valide:" + marker)
        producer.commit_transaction(timeout_s)
        seen = _read_from(reader, TopicPartition(probe, 0, start), b"valide:" + marker, timeout_s)
    except KafkaException as exc:
        error = exc.args[0]
        if not refuses_transactions(error):
            raise  # a broker still settling (no leader, no coordinator yet): asked again
        log.warning("sonde.transactions_refusees", erreur=error.name())
        return Guarantee.ACK_THEN_COMMIT  # the broker refuses transactions outright
    finally:
        reader.close()
    if b"valide:" + marker not in seen:
        log.warning("sonde.sans_reponse", topic=probe)
        return Guarantee.ACK_THEN_COMMIT
    return Guarantee.ACK_THEN_COMMIT if b"annule:" + marker in seen else Guarantee.TRANSACTIONS


def _read_from(consumer: Consumer, start: TopicPartition, last: bytes, timeout_s: float) -> set[bytes]:
    consumer.assign([start])
    seen: set[bytes] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and last not in seen:
        for message in consumer.consume(500, 0.5):
            value = message.value()
            if message.error() is None and value:
                seen.add(value)
    return seen
