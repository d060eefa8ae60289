"""Producers for the command-line tools, which may point at Kafka or at the embedded broker."""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from passerelle.broker.access import KafkaAccess
from passerelle.settings import Settings

log = structlog.get_logger("passerelle.producer")


async def start_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """Idempotent when the settings ask for it; the embedded broker refuses that, so fall back with a warning."""
    access = KafkaAccess.of(settings)
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=settings.producer_idempotence, **options)
    try:
        await producer.start()
        return producer
    except KafkaError:
        await producer.stop()
        if not settings.producer_idempotence:
            raise
    log.warning("producteur.sans_idempotence", raison="le broker refuse les producteurs idempotents")
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=False, **options)
    await producer.start()
    return producer
