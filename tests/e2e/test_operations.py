"""What an operator does, against the running stack: the CLI commands, a killed adapter, a DLQ replay."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from passerelle.simulation import native as simulated
from passerelle.stack.local import Stack
from tests.e2e.traffic import positionnement, pseudonym_of
from tests.flows import caused_by, cli, cli_json, counts_along, header, native_headers, send, wait_for

pytestmark = pytest.mark.broker


async def test_tail_decodes_avro_and_shows_native_text(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = uuid.uuid4().hex[:8]
    await send(producer, "in.imilo", positionnement(n), native_headers(ce_id=f"tail-{n}"))
    await wait_for(stack.access, "out.region-24", caused_by(f"tail-{n}"))
    code, out = await cli(stack, "tail", "canon.formation.Positionnement", "--from-beginning", "--timeout", "3")
    assert code == 0
    lines = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["headers"].get("correlation_id") == f"tail-{n}"]
    assert mine and mine[0]["value"]["idPositionnement"] == f"P-{n}"
    assert mine[0]["schema"].startswith("formation.Positionnement v1")
    code, out = await cli(stack, "tail", "out.region-24", "--from-beginning", "--max", "1")
    assert code == 0 and orjson.loads(out.splitlines()[0])["value"]["evenement"]
    code, out = await cli(stack, "tail", "topic.inconnu", "--timeout", "1")
    assert (code, out.strip()) == (66, "Erreur : topic inconnu : topic.inconnu")


async def test_dlq_list_show_and_replay(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = uuid.uuid4().hex[:8]
    await send(
        producer,
        "in.imilo",
        b'{"typeEvenement": "formation.Positionnement", "idPositionnement": 5}',
        native_headers(ce_id=f"dlq-{n}"),
    )
    [dead] = await wait_for(stack.access, "dlq.milo_adapter", caused_by(f"dlq-{n}"))
    ref = f"{dead.partition}:{dead.offset}"
    code, out = await cli(stack, "dlq", "list", "--service", "milo_adapter")
    assert code == 0 and ref in out and "in.imilo" in out
    code, listed = await cli_json(stack, "dlq", "list", "--service", "milo_adapter")
    [mine] = [m for m in listed["messages"] if m["ref"] == ref]
    assert code == 0 and listed["count"] == len(listed["messages"])
    assert (mine["dlq"], mine["sender"], mine["source"]["topic"]) == ("dlq.milo_adapter", "imilo", "in.imilo")
    assert mine["received_at"].endswith("Z") and mine["code"] and mine["problems"]
    code, out = await cli(stack, "dlq", "show", ref, "--service", "milo_adapter")
    assert code == 0, out
    assert "dossier.idDossier" in out
    code, out = await cli(stack, "dlq", "show", "0:999999999", "--service", "milo_adapter")
    assert (code, out.strip()) == (66, "Erreur : aucun message 0:999999999 dans dlq.milo_adapter")
    code, out = await cli(stack, "dlq", "replay", "--service", "milo_adapter", "--ref", ref)
    assert code == 0, out
    assert "1 message(s) rejoué(s)" in out
    # The replay is processed again (it fails again, being still wrong) and the sender is told it was a replay.
    feedback = await wait_for(stack.access, "feedback.imilo", caused_by(f"dlq-{n}"), count=2)
    assert any(orjson.loads(r.value)["rejeu"] for r in feedback)
    # Replaying the same DLQ record again is a duplicate of the first replay: nothing new.
    await cli(stack, "dlq", "replay", "--service", "milo_adapter", "--ref", ref)
    again = await wait_for(stack.access, "feedback.imilo", caused_by(f"dlq-{n}"), count=2, settle_s=2.0)
    assert len(again) == 2


async def test_audit_topics_and_partners_commands(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = uuid.uuid4().hex[:8]
    await send(producer, "in.imilo", positionnement(n), native_headers(ce_id=f"audit-{n}"))
    await wait_for(stack.access, "out.region-24", caused_by(f"audit-{n}"))
    code, out = await cli(stack, "audit", "verify")
    assert code == 0 and "intègre" in out, out
    code, out = await cli(stack, "topics", "create")
    assert code == 0 and "déjà présent" in out
    code, out = await cli(stack, "partners", "list")
    assert code == 0 and "region-53" in out
    code, audit = await cli_json(stack, "audit", "verify")
    assert code == 0 and audit["ok"] is True and audit["breaks"] == [], audit
    assert audit["records"] >= 1 and sum(audit["signed_by"].values()) == audit["records"]
    code, created = await cli_json(stack, "topics", "create")
    assert code == 0 and created["created"] == 0 and created["existing"] == len(created["topics"])
    assert {"name": "audit.deliveries", "partitions": 1} in [
        {"name": t["name"], "partitions": t["partitions"]} for t in created["topics"]
    ]


async def test_a_killed_adapter_loses_nothing_and_doubles_nothing(
    stack: Stack, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    await stack.remove("region-adapter")
    # The stack's own broker settings (on the embedded broker: short session, ack then commit), so the killed
    # member's partitions move as fast as the in-process services' would.
    same = ("producer_idempotence", "consumer_session_timeout_ms", "transactions", "fetch_max_wait_ms")
    env = {
        **os.environ,
        **{f"PASSERELLE_{name.upper()}": str(getattr(stack.settings, name)).lower() for name in same},
        **stack.access.environment(),
        "PASSERELLE_METRICS_PORT": "0",
        "PASSERELLE_BATCH_MAX_RECORDS": "50",
        "PASSERELLE_LOG_LEVEL": "WARNING",
    }

    errors = tmp_path / "region-adapter.log"  # the subprocesses' log, shown if one of them misbehaves

    async def start() -> asyncio.subprocess.Process:
        with errors.open("ab") as log_file:  # the child keeps its own copy of the descriptor
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "passerelle.cli",
                "service",
                "run",
                "region-adapter",
                "--host",
                "127.0.0.1",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log_file,
            )

    n = uuid.uuid4().hex[:8]
    pseudo = pseudonym_of(n)
    total = 600
    process = await start()
    try:
        for i in range(total):
            body = simulated.region_json_message(
                "formation.EntreeFormation",
                {
                    "id_positionnement": f"P-{n}-{i}",
                    "pseudonyme": pseudo,
                    "id_session": "24:1",
                    "code_structure": "37261S00",
                    "date_entree": "2026-04-01",
                },
            )
            await producer.send(
                "in.region-24",
                body,
                key=f"{i}".encode(),
                headers=native_headers(ce_id=f"kill-{n}-{i}", correlation_id=f"kill-{n}"),
            )
        await producer.flush()
        await wait_for(stack.access, "canon.formation.EntreeFormation", caused_by(f"kill-{n}"), count=50, timeout_s=60)
        process.send_signal(signal.SIGKILL)  # mid-stream, without any chance to commit
        await process.wait()
        process = await start()
        canon = await wait_for(
            stack.access,
            "canon.formation.EntreeFormation",
            caused_by(f"kill-{n}"),
            count=total,
            timeout_s=90,
            settle_s=3.0,
        )
        ids = [header(r, "ce_id") for r in canon]
        assert len(ids) == total and len(set(ids)) == total
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 40)
        except TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail(f"the restarted adapter did not end on SIGTERM: {errors.read_bytes()[-3000:]!r}")
        await stack.add("region-adapter")
        # The killed member may hold its partitions for a whole session before the group lets them go.
        await stack.wait_ready(limit_s=120)
    try:
        delivered = await wait_for(
            stack.access, "out.imilo", caused_by(f"kill-{n}"), count=total, timeout_s=60, settle_s=2.0
        )
    except AssertionError as exc:
        along = await counts_along(stack.access, ("canon.formation.EntreeFormation", "deliver.imilo"), f"kill-{n}")
        raise AssertionError(f"{exc} ; avant : {along}") from None
    assert len(delivered) == total
