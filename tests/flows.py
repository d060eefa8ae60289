"""Helpers for tests over the running stack: tests share it, so each tags its messages and reads back its own."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import TopicNotFound, collect


def native_headers(event: str | None = None, ce_id: str | None = None, **extra: str) -> list[tuple[str, bytes]]:
    headers = [("ce_id", (ce_id or str(uuid.uuid4())).encode())]
    if event:
        headers.append(("ce_type", event.encode()))
    headers += [(k, v.encode()) for k, v in extra.items()]
    return headers


async def send(
    producer: AIOKafkaProducer,
    topic: str,
    value: bytes,
    headers: Sequence[tuple[str, bytes]],
    key: bytes | None = None,
) -> None:
    await producer.send_and_wait(topic, value, key=key, headers=list(headers))


async def wait_for(
    access: KafkaAccess,
    topic: str,
    match: Callable[[Any], bool],
    count: int = 1,
    timeout_s: float = 30.0,
    settle_s: float = 0.0,
) -> list[Any]:
    """Records of ``topic`` matching ``match``, once at least ``count`` are there (then ``settle_s`` more,
    to catch any unexpected extra one)."""
    found: list[Any] = []
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                found = [r for r in await collect(access, topic) if match(r)]
                if len(found) >= count:
                    break
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"{topic} : {len(found)} message(s) attendu(s) trouvé(s) sur {count}") from None
    if settle_s:
        await asyncio.sleep(settle_s)
        # Both reads together: the embedded broker may answer a short end offset, so one read can stop before the
        # last batch (docs/operator-guide.md); a record seen once is there, and duplicates are still counted.
        seen = {(r.partition, r.offset): r for r in found}
        seen.update({(r.partition, r.offset): r for r in await collect(access, topic) if match(r)})
        found = sorted(seen.values(), key=lambda r: (r.partition, r.offset))
    return found


async def counts_along(access: KafkaAccess, path: Sequence[str], marker: str) -> dict[str, int]:
    """How many records of each topic carry the marker (ce_id or correlation id; -1: no such topic), to tell
    which hop lost a message."""
    seen = {}
    for topic in path:
        try:
            records = await collect(access, topic)
        except TopicNotFound:
            seen[topic] = -1
            continue
        seen[topic] = sum(1 for r in records if marker in (header(r, "ce_id"), header(r, "correlation_id")))
    return seen


def header(record: Any, name: str) -> str | None:
    for key, value in reversed(record.headers or ()):
        if key == name:
            return (value or b"").decode()
    return None


def caused_by(*markers: str) -> Callable[[Any], bool]:
    """Matches records whose correlation id is one of ``markers`` (set on the native input's ce_id)."""
    wanted = set(markers)
    return lambda r: header(r, "correlation_id") in wanted


def _cli_environment(stack: Any) -> dict[str, str]:
    env = {**os.environ, **stack.access.environment(), "COLUMNS": "200"}
    # The stack's audit public key (ephemeral unless configured), as an operator's environment would name it.
    public_key = getattr(getattr(stack, "settings", None), "audit_public_key_file", None)
    if public_key:
        env["PASSERELLE_AUDIT_PUBLIC_KEY_FILE"] = str(public_key)
    return env


async def _run_cli(stack: Any, args: Sequence[str], timeout_s: float, apart: bool) -> tuple[int, bytes, bytes]:
    """``passerelle ARGS`` in a subprocess against the stack's broker; stderr apart or merged into stdout."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "passerelle.cli",
        *args,
        env=_cli_environment(stack),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if apart else asyncio.subprocess.STDOUT,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    return process.returncode or 0, out, err or b""


async def cli(stack: Any, *args: str, timeout_s: float = 60.0) -> tuple[int, str]:
    """Run ``passerelle ARGS`` in a subprocess against the stack's broker; (exit code, output)."""
    code, out, _ = await _run_cli(stack, args, timeout_s, apart=False)
    return code, out.decode()


async def cli_json(stack: Any, *args: str, timeout_s: float = 60.0) -> tuple[int, Any]:
    """``passerelle ARGS --json``: (exit code, the one JSON document its stdout holds); stderr is left aside."""
    code, out, err = await _run_cli(stack, [*args, "--json"], timeout_s, apart=True)
    assert out, err.decode()
    return code, json.loads(out)
