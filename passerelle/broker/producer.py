"""Producers for the command-line tools, which may point at Kafka or at the embedded broker."""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

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
    except KafkaError as exc:
        await producer.stop()
        # Only a refusal of idempotence is worth a second try; no broker at all is not.
        if not settings.producer_idempotence or isinstance(exc, KafkaConnectionError):
            raise
    log.warning("producteur.sans_idempotence", raison="le broker refuse les producteurs idempotents")
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=False, **options)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer
