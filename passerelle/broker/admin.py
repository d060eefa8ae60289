"""Topic creation against any Kafka-protocol broker (Tansu embedded, Apache Kafka in production)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from passerelle.broker.access import KafkaAccess
from passerelle.broker.topics import TopicSpec


async def ensure_topics(
    access: KafkaAccess, specs: Sequence[TopicSpec], replication_factor: int = 1, with_configs: bool = True
) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(**access.aiokafka())
    try:  # a start that fails has opened connections too: the finally closes them
        await admin.start()
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
        await _until_visible(admin, {s.name for s in missing})
        return [s.name for s in missing]
    finally:
        await admin.close()


async def _until_visible(admin: AIOKafkaAdminClient, names: set[str], timeout_s: float = 30.0) -> None:
    """Apache Kafka answers CreateTopics before the new partitions have leaders: wait until every one has, so
    whoever reads or writes them next does not find them missing or leaderless."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while not await _all_led(admin, names):
                await asyncio.sleep(0.2)


async def _all_led(admin: AIOKafkaAdminClient, names: set[str]) -> bool:
    try:
        described = await admin.describe_topics(sorted(names))
    except KafkaError:
        return False
    return len(described) == len(names) and all(
        topic["error_code"] == 0
        and topic["partitions"]
        and all(p["error_code"] == 0 and p["leader"] >= 0 for p in topic["partitions"])
        for topic in described
    )


async def broker_message_limit(access: KafkaAccess, timeout_s: float = 10.0) -> int | None:
    """The broker's ``message.max.bytes``, or None when it does not say (brokers without DescribeConfigs)."""
    admin = AIOKafkaAdminClient(**access.aiokafka(), request_timeout_ms=int(timeout_s * 1000))
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            cluster = await admin.describe_cluster()
            brokers = cluster.get("brokers") or []
            if not brokers:
                return None
            resource = ConfigResource(
                ConfigResourceType.BROKER, str(brokers[0]["node_id"]), {"message.max.bytes": None}
            )
            responses = await admin.describe_configs([resource])
        for response in responses:
            for resource_result in response.resources:
                for entry in resource_result[4]:
                    if entry[0] == "message.max.bytes" and entry[1]:
                        return int(entry[1])
    except (KafkaError, OSError, TimeoutError, ValueError, KeyError, IndexError, TypeError):
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return None
