"""The commands a person types, run as subprocesses: ingest, registry serve, dev up, demo."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from lxml import etree

from passerelle.broker.access import KafkaAccess
from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.core.lheo_stream import split_lheo
from passerelle.core.pieces import split_csv
from passerelle.simulation.lheo_feed import write_feed
from passerelle.stack.deployables import SERVICES
from passerelle.stack.local import Stack
from tests.conftest import OWN_LHEO, TEST_SETTINGS
from tests.e2e.traffic import positionnement, pseudonym_of
from tests.flows import caused_by, cli, native_headers, send, wait_for

pytestmark = pytest.mark.broker


def _markers(pieces: list[bytes]) -> list[str]:
    """Pieces are published without ce_id: each is known by its SHA-256."""
    return ["sha256:" + hashlib.sha256(p).hexdigest() for p in pieces]


async def test_ingest_lheo_streams_a_feed_in_pieces_and_every_session_arrives(stack: Stack, tmp_path: Path) -> None:
    feed = tmp_path / "offre.xml"
    templates = TEST_SETTINGS.lheo_feeds or sorted(OWN_LHEO.glob("*.xml"))
    with feed.open("wb") as out:
        write_feed(out, 250_000, seed=uuid.uuid4().int % 10_000, templates=templates)
    sessions = sum(1 for _, e in etree.iterparse(str(feed), tag="{*}session"))
    with feed.open("rb") as source:
        pieces = list(split_lheo(source, 60_000))
    assert len(pieces) > 2

    code, output = await cli(stack, "ingest", "lheo", str(feed), "--partner", "region-24", "--max-bytes", "60000")
    assert code == 0, output
    assert f"{len(pieces)} morceau(x) publié(s) sur in.region-24" in output

    markers = _markers(pieces)
    canon = await wait_for(stack.access, "canon.formation.OffreSession", caused_by(*markers), count=sessions)
    assert len({r.key for r in canon}) == sessions  # one event per session, none twice
    delivered = await wait_for(stack.access, "out.imilo", caused_by(*markers), count=sessions)
    assert {orjson.loads(r.value)["typeEvenement"] for r in delivered} == {"formation.OffreSession"}


async def test_ingest_csv_keeps_the_line_numbers_of_the_file_across_pieces(stack: Stack, tmp_path: Path) -> None:
    n = uuid.uuid4().hex[:8]
    header = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut"
    rows = []
    for i in range(40):
        date = "31/02/2026" if i in (7, 33) else "02/03/2026"  # two impossible dates, on lines 9 and 35
        rows.append(f"P-{n}-{i};{pseudonym_of(f'{n}-{i}')};53:77;35238S00;ADMIS;{date}")
    path = tmp_path / "statuts.csv"
    path.write_bytes("\r\n".join([header, *rows, ""]).encode("latin-1"))
    with path.open("rb") as source:
        pieces = [piece for _, piece in split_csv(source, 1_500)]
    assert len(pieces) > 3

    code, output = await cli(
        stack, "ingest", "csv", str(path), "--partner", "region-53", "--event", "formation.StatutCandidature",
        "--max-bytes", "1500",
    )  # fmt: skip
    assert code == 0, output

    markers = _markers(pieces)
    errors = await wait_for(stack.access, "feedback.region-53", caused_by(*markers), count=2)
    positions = [e["position"] for r in errors for e in orjson.loads(r.value)["erreurs"]]
    assert sorted(positions) == ["ligne 35", "ligne 9"]
    await wait_for(stack.access, "out.imilo", caused_by(*markers), count=38)


async def test_registry_serve_answers_like_a_schema_registry() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passerelle.cli", "registry", "serve", "--host", LOOPBACK, "--port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}") as client:
            subjects = await _get_when_up(client, "/subjects")
            assert "canon.formation.Positionnement-value" in subjects
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 20) in (0, -signal.SIGTERM)


async def _get_when_up(client: httpx.AsyncClient, path: str) -> list[str]:
    async with asyncio.timeout(30):
        while True:
            try:
                response = await client.get(path)
                if response.status_code == 200:
                    body: list[str] = response.json()
                    return body
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


def _without_broker() -> dict[str, str]:
    """The commands that start their own embedded broker must not see the test session's."""
    env = {k: v for k, v in os.environ.items() if k != "PASSERELLE_KAFKA_BOOTSTRAP"}
    return {**env, "COLUMNS": "200"}


async def test_dev_up_prints_its_addresses_serves_metrics_and_stops_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passerelle.cli", "dev", "up",
        env=_without_broker(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen = io.StringIO()
    try:
        async with asyncio.timeout(120):
            while "Ctrl-C" not in seen.getvalue():
                line = await process.stdout.readline()
                assert line, f"dev up s'est arrêté :\n{seen.getvalue()}"
                seen.write(line.decode())
        text = seen.getvalue()
        assert re.search(r"broker \(Tansu embarqué[^)]*\)\W+127\.0\.0\.1:\d+", text)
        urls = re.findall(r"http://127\.0\.0\.1:\d+/metrics", text)
        assert len(urls) == len(SERVICES)  # every service of the stack, each on its own port
        assert re.search(r"API des partenaires \(HTTP\)\W+http://127\.0\.0\.1:\d+/v1/partners/", text)
        async with httpx.AsyncClient() as client:
            for url in urls:
                assert "passerelle_service_ready" in (await client.get(url)).text
        # The two commands it prints for a first message over HTTPS work as pasted into a shell.
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("Premier message par l'API"))
        post, read = lines[start + 1].strip(), lines[start + 3].strip()
        posted = await _shell(post)
        assert orjson.loads(posted)["acceptes"] == 1, posted
        delivered = await _shell(read)
        assert "P-premier" in delivered, delivered
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, seen.getvalue() + rest.decode()


async def _shell(command: str) -> str:
    """A command line as a person pastes it into bash: its standard output."""
    shell = await asyncio.create_subprocess_exec("bash", "-c", command, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(shell.communicate(), 60)
    assert shell.returncode == 0, command
    return out.decode()


async def _dev_up(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    """``passerelle dev up ARGS`` until it says Ctrl-C: the process and what it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "passerelle.cli", "dev", "up", *args,
        env=_without_broker(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen = io.StringIO()
    async with asyncio.timeout(180):
        while "Ctrl-C" not in seen.getvalue():
            line = await process.stdout.readline()
            assert line, f"dev up s'est arrêté :\n{seen.getvalue()}"
            seen.write(line.decode())
    return process, seen.getvalue()


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0


def _printed_env(text: str, marker: str) -> dict[str, str]:
    """The ``PASSERELLE_*`` variables of the printed line holding ``marker``, as a user would copy them."""
    line = next(line for line in text.splitlines() if marker in line and "PASSERELLE_KAFKA_BOOTSTRAP=" in line)
    return dict(re.findall(r"(PASSERELLE_[A-Z_]+)=(\S+)", line))


def _access(env: dict[str, str]) -> KafkaAccess:
    password = Path(env["PASSERELLE_KAFKA_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
    plain = KafkaAccess(env["PASSERELLE_KAFKA_BOOTSTRAP"]).with_ca(Path(env["PASSERELLE_KAFKA_CA_FILE"]))
    return plain.as_user(env["PASSERELLE_KAFKA_USERNAME"], password)


@pytest.mark.kafka
async def test_dev_up_on_apache_kafka_keeps_its_data_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "donnees"
    process, text = await _dev_up("--broker", "kafka", "--donnees", str(data))
    try:
        operator = _printed_env(text, "Exemple")
        access = _access(operator)
        producer = AIOKafkaProducer(**access.aiokafka())
        await producer.start()
        try:
            await send(producer, "in.imilo", positionnement("reprise"), native_headers(ce_id="reprise-1"))
        finally:
            await producer.stop()
        await wait_for(access, "out.region-24", caused_by("reprise-1"), timeout_s=60)
        # The partner, with the identity the stack printed, reads its delivery: authentication is on.
        partner = _printed_env(text, "USERNAME=region-24")
        tail = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "passerelle.cli", "tail", "out.region-24", "--from-beginning", "--timeout", "10",
            env={**os.environ, **partner}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(tail.communicate(), 60)
        assert tail.returncode == 0 and b"reprise-1" in out, out.decode()
        assert partner["PASSERELLE_KAFKA_SECURITY"] == "SASL_SSL"
    finally:
        await _stop(process)
    assert (data / "audit" / "audit-signing.pem").exists()

    process, text = await _dev_up("--broker", "kafka", "--donnees", str(data))
    try:
        operator = _printed_env(text, "Exemple")
        access = _access(operator)
        # The delivery made before the stop is still there: the broker resumed its data.
        assert await wait_for(access, "out.region-24", caused_by("reprise-1"), timeout_s=30)
        env = {**os.environ, **operator}
        env["PASSERELLE_AUDIT_PUBLIC_KEY_FILE"] = str(data / "audit" / "audit-public.pem")
        verified = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "passerelle.cli", "audit", "verify",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(verified.communicate(), 60)
        assert verified.returncode == 0, out.decode()
    finally:
        await _stop(process)


async def test_killing_dev_up_takes_its_embedded_broker_along() -> None:
    before = _tansu_processes()
    process, _ = await _dev_up()
    assert _tansu_processes() == before + 1
    process.kill()  # no Ctrl-C, no clean-up code: the kernel tells the broker its parent is gone
    await process.wait()
    async with asyncio.timeout(20):
        while _tansu_processes() > before:
            await asyncio.sleep(0.2)


def _tansu_processes() -> int:
    listing = subprocess.run(["ps", "-eo", "comm"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in listing.splitlines() if line.strip() == "tansu")


def test_demo_plays_a_scenario_prints_the_summary_and_exits_0() -> None:
    before = _tansu_processes()
    done = subprocess.run(
        [sys.executable, "-m", "passerelle.cli", "demo", "--events", "150", "--seed", "3"],
        env=_without_broker(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "bilan par flux" in done.stdout
    assert "Indicateurs de la convention" in done.stdout
    assert _tansu_processes() == before  # it stopped the broker it started
