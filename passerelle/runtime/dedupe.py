"""Idempotence: remember which inputs a hop already turned into outputs.

The memory is rebuilt at start from the ``passerelle_cause`` header of the
hop's own recent outputs, so a crash between producing and committing (the
at-least-once window) does not deliver twice after a restart.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import partitions_of
from passerelle.core.headers import CAUSE


class SeenInputs:
    """A bounded, insertion-ordered set of input keys (oldest forgotten first)."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add_all(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._keys[key] = None
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)


async def causes_in(
    access: KafkaAccess, topics: Iterable[str], per_partition: int, timeout_s: float = 30.0
) -> list[str]:
    """The cause headers of the last ``per_partition`` records of each partition of ``topics``.

    Committed records only: an aborted transaction's output does not count as done.
    """
    topics = list(topics)
    if not topics:
        return []  # a hop that writes nothing (the indicators' observer); a consumer stopped at once cannot close
    consumer = AIOKafkaConsumer(
        **access.aiokafka(), enable_auto_commit=False, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(await partitions_of(consumer, t, 0))]
        if not partitions:
            return []
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        pending = {}
        for tp in partitions:
            if ends[tp] > starts[tp]:
                consumer.seek(tp, max(starts[tp], ends[tp] - per_partition))
                pending[tp] = ends[tp]
        causes: list[str] = []
        async with asyncio.timeout(timeout_s):
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        causes.extend(v.decode() for k, v in record.headers or () if k == CAUSE and v)
                for tp in list(pending):
                    if await consumer.position(tp) >= pending[tp]:
                        del pending[tp]
        return causes
    finally:
        await consumer.stop()
