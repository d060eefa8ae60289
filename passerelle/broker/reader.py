"""Reading a topic outside any consumer group: for tail, the DLQ tools and the audit check."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from passerelle.broker.access import KafkaAccess


class TopicNotFound(LookupError):
    pass


async def partitions_of(consumer: AIOKafkaConsumer, topic: str, wait_s: float = 3.0) -> set[int]:
    """The topic's partitions; a topic just created may be listed before its partitions are: ask again briefly."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        # The consumer's own cached metadata only knows topics it has asked about: read the fresh answer.
        cluster = await consumer._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
        if parts:
            return set(parts)
        if asyncio.get_running_loop().time() > deadline:
            return set()
        await asyncio.sleep(0.2)


async def log_ends(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Each partition's end: the broker's answer, or the high watermark of the consumer's last fetch when further.

    The embedded broker's ``ListOffsets`` falls short of the log's end after a batch of several records (the last
    batch's first offset plus one); a fetch response's high watermark does not.
    """
    listed = await consumer.end_offsets(partitions)
    return {tp: max(end, consumer.highwater(tp) or 0) for tp, end in listed.items()}


async def read_topic(
    access: KafkaAccess,
    topic: str,
    *,
    from_beginning: bool = True,
    until_end: bool = True,
    max_records: int | None = None,
    timeout_s: float | None = None,
) -> AsyncIterator[Any]:
    """Yield the topic's records in partition order; stop at the end offsets seen at start (``until_end``),
    after ``max_records``, or after ``timeout_s`` without a new record."""
    # Committed records only: an aborted transaction's outputs were never delivered.
    consumer = AIOKafkaConsumer(
        **access.aiokafka(), enable_auto_commit=False, group_id=None, isolation_level="read_committed"
    )
    try:  # a start that fails has opened connections too: the finally closes them
        await consumer.start()
        parts = await partitions_of(consumer, topic)
        if not parts:
            raise TopicNotFound(f"topic inconnu : {topic}")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > await consumer.position(tp)} if until_end else set(tps)
        seen = 0
        while pending:
            wait_ms = int((timeout_s if timeout_s is not None else 1.0) * 1000)
            batches = await consumer.getmany(*tps, timeout_ms=wait_ms, max_records=500)
            if not batches and timeout_s is not None:
                return
            for records in batches.values():
                for record in records:
                    yield record
                    seen += 1
                    if max_records is not None and seen >= max_records:
                        return
            if until_end:
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


async def collect(access: KafkaAccess, topic: str, **kwargs: Any) -> list[Any]:
    return [r async for r in read_topic(access, topic, **kwargs)]
