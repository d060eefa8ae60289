"""The broker goes away and comes back: services say so, stay quiet, resume, and still stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from passerelle.broker.access import KafkaAccess
from passerelle.broker.embedded import EmbeddedBroker, embedded_settings, free_port
from passerelle.logging import RepeatFilter
from passerelle.settings import Settings
from passerelle.stack.local import Stack
from tests.conftest import TEST_SECRET
from tests.e2e.traffic import positionnement
from tests.flows import caused_by, counts_along, native_headers, send, wait_for

pytestmark = pytest.mark.broker
# The topics a positionnement from I-MILO crosses to region-24, with the places an error would go.
PATH = (
    "in.imilo", "canon.formation.Positionnement", "deliver.region-24", "out.region-24",
    "dlq.milo_adapter", "dlq.router", "dlq.region_adapter", "feedback.imilo",
)  # fmt: skip


async def _health(stack: Stack) -> dict[str, tuple[int, str]]:
    answers = {}
    async with httpx.AsyncClient() as client:
        for name, service in stack.running.items():
            response = await client.get(service.metrics_url.replace("/metrics", "/health"), timeout=3)
            answers[name] = (response.status_code, response.text)
    return answers


async def _until(stack: Stack, status: int, timeout_s: float = 30.0) -> dict[str, tuple[int, str]]:
    deadline = time.monotonic() + timeout_s
    while True:
        answers = await _health(stack)
        if all(code == status for code, _ in answers.values()) or time.monotonic() > deadline:
            return answers
        await asyncio.sleep(1)


async def _deliver(access: KafkaAccess, n: str) -> int:
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=False)
    await producer.start()
    try:
        headers = native_headers("formation.Positionnement", ce_id=f"panne-{n}")
        await send(producer, "in.imilo", positionnement(f"panne-{n}"), headers)
    finally:
        await producer.stop()
    try:
        return len(await wait_for(access, "out.region-24", caused_by(f"panne-{n}"), timeout_s=90))
    except AssertionError as exc:
        raise AssertionError(f"{exc} ; le long du chemin : {await counts_along(access, PATH, f'panne-{n}')}") from None


async def _topics_back(access: KafkaAccess) -> None:
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    try:
        async with asyncio.timeout(60):
            while not {"in.imilo", "canon.formation.Positionnement", "deliver.region-24"} <= set(
                await admin.list_topics()
            ):
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines = 0
        self.addFilter(RepeatFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1


@pytest.fixture
async def lonely_stack() -> AsyncIterator[tuple[Stack, EmbeddedBroker]]:
    """A stack on a broker of its own, which this test kills."""
    broker = EmbeddedBroker().start()
    settings = embedded_settings(Settings(pseudonym_secret=TEST_SECRET, batch_timeout_ms=10), broker.bootstrap)
    stack = Stack(settings)
    await stack.start()
    try:
        yield stack, broker
    finally:
        await stack.stop()
        broker.close()


_APART_S = 420


def test_the_broker_restart_passes_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The broker-restart test, run in a child pytest with a deadline: were the process to freeze again (a thread
    blocked in the client library while holding the GIL stops every thread, pytest-timeout's included), the child
    is killed and its threads' stacks are shown, instead of the whole run hanging."""
    test = f"{__file__}::test_a_broker_restarted_empty_is_reported_then_used_again"
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "outage", test],
        stdout=(tmp_path / "sortie.txt").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        code = child.wait(_APART_S)
    except subprocess.TimeoutExpired:
        stacks = subprocess.run(
            [str(Path(sys.executable).parent / "py-spy"), "dump", "--pid", str(child.pid)],
            capture_output=True,
            text=True,
        ).stdout
        child.kill()
        child.wait()
        pytest.fail(f"figé après {_APART_S} s ; piles :\n{stacks}\n{(tmp_path / 'sortie.txt').read_text()[-3000:]}")
    assert code == 0, (tmp_path / "sortie.txt").read_text()[-5000:]


@pytest.mark.outage
async def test_a_broker_restarted_empty_is_reported_then_used_again(
    lonely_stack: tuple[Stack, EmbeddedBroker],
) -> None:
    stack, broker = lonely_stack
    assert await _deliver(broker.access, "avant") == 1
    counter = _Count()
    logging.getLogger("aiokafka").addHandler(counter)
    try:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        down = await _until(stack, 503)
        assert all(code == 503 and "broker injoignable" in body for code, body in down.values()), down
        restarted = EmbeddedBroker(port=broker.port).start()
        try:
            up = await _until(stack, 200, timeout_s=60)
            assert all(code == 200 for code, _ in up.values()), up
            # The in-memory broker came back empty: the services recreate their topics and carry on. Sent once
            # the consumers have read the empty partitions: a position kept from before the restart is reset
            # by the broker's « out of range » answer, not by a record that arrived first (docs/operator-guide.md).
            await _topics_back(restarted.access)
            await asyncio.sleep(10)
            assert await _deliver(restarted.access, "apres") == 1
        finally:
            restarted.close()
    finally:
        logging.getLogger("aiokafka").removeHandler(counter)
    # Without the filter aiokafka wrote about 170 lines a second here.
    assert counter.lines < 100, counter.lines


async def test_sigterm_ends_a_service_whose_broker_is_gone() -> None:
    broker = EmbeddedBroker().start()
    port = free_port()
    env = {
        **os.environ,
        **broker.access.environment(),
        "PASSERELLE_PRODUCER_IDEMPOTENCE": "false",
        "PASSERELLE_METRICS_PORT": str(port),
        "PASSERELLE_PSEUDONYM_SECRET": TEST_SECRET,
        "PASSERELLE_LOG_LEVEL": "WARNING",
    }
    service = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "passerelle.cli", "service", "run", "indicators", "--host", "127.0.0.1"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/health", timeout=2)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
            else:
                pytest.fail("the indicators service never became ready")
        broker.close()
        await asyncio.sleep(3)
        service.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.wait_for(service.wait(), 60)
        assert time.monotonic() - started < 40, "SIGTERM took too long with the broker gone"
        # uvicorn stops cleanly, then re-raises the signal it caught, as a well-behaved server does.
        errors = await service.stderr.read() if service.stderr else b""
        assert code in (0, -signal.SIGTERM), errors[-2000:]
        assert b"Traceback" not in errors, errors[-2000:]
    finally:
        if service.returncode is None:
            service.kill()
            await service.wait()
        broker.close()
