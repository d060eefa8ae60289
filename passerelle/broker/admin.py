"""Topic creation against any Kafka-protocol broker (Tansu embedded, Apache Kafka in production)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from passerelle.broker.topics import TopicSpec


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], replication_factor: int = 1, with_configs: bool = True
) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                s.name,
                s.partitions,
                replication_factor,
                topic_configs=({"retention.ms": str(s.retention_ms), **s.configs} if with_configs else None),
            )
            for s in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another member raced us: fine
            await admin.create_topics(new)
        return [s.name for s in missing]
    finally:
        await admin.close()
