"""Running a command's work against the broker: a broker that does not answer is one clear error, fast.

The broker is asked first, by a client closed whatever happens, so a command never starts its consumers,
producers or admin clients against a broker that is not there (nor leaves one unclosed behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

from passerelle.broker.access import KafkaAccess
from passerelle.cli.exits import Unreachable

T = TypeVar("T")

# Long enough for a TLS handshake on a loaded cluster; a refused connection fails at once anyway.
_REACH_TIMEOUT_MS = 10_000


def on_broker(access: KafkaAccess, work: Callable[[], Awaitable[T]]) -> T:
    """``work()`` run to its end once the broker has answered."""

    async def checked() -> T:
        await _reach(access)
        return await work()

    with _quiet_client_logs():
        return asyncio.run(checked())


def reach(access: KafkaAccess) -> None:
    """For the tools on librdkafka, whose own calls would wait for their full timeout before failing."""
    with _quiet_client_logs():
        asyncio.run(_reach(access))


async def _reach(access: KafkaAccess) -> None:
    client = AIOKafkaClient(**access.aiokafka(), request_timeout_ms=_REACH_TIMEOUT_MS)
    try:
        await client.bootstrap()
    except KafkaConnectionError:
        raise Unreachable(
            f"broker Kafka injoignable ({access.bootstrap}) : vérifiez PASSERELLE_KAFKA_BOOTSTRAP, que le broker "
            "est démarré et l'identité présentée (PASSERELLE_KAFKA_*)"
        ) from None
    finally:
        await client.close()


@contextlib.contextmanager
def _quiet_client_logs() -> Iterator[None]:
    """aiokafka logs each failed connection; the command reports the failure itself, once."""
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)
