"""The console over the running stack: a refused message reaches its DLQ page, and I-MILO's flow counts it."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
import zipfile

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from passerelle.core.envelope import event_type
from passerelle.stack.local import Stack
from services.indicators.opendata import SCHEMA_FILE
from tests.e2e.traffic import positionnement
from tests.flows import caused_by, native_headers, send, wait_for

pytestmark = pytest.mark.broker

EVENT = "formation.Positionnement"
# The month of the positionnements tests.e2e.traffic builds.
MONTH = "2026-03"
ROW = re.compile(rf"<td>imilo</td><td>publie</td><td>{re.escape(EVENT)}</td><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td>")


async def _imilo_row(client: httpx.AsyncClient) -> tuple[int, int]:
    """(messages, refused) of I-MILO's positionnements on the « Flux » page."""
    page = await client.get("/")
    assert page.status_code == 200
    found = ROW.search(page.text)
    assert found, page.text
    return int(found[1]), int(found[2])


async def test_a_malformed_message_is_on_the_console(stack: Stack, producer: AIOKafkaProducer) -> None:
    assert stack.console_url and stack.console_credential
    marker = f"console-{uuid.uuid4()}"
    headers = {"Authorization": stack.console_credential.authorization}
    async with httpx.AsyncClient(base_url=stack.console_url, headers=headers, timeout=30) as client:
        before = await _imilo_row(client)
        await send(producer, "in.imilo", b'{"casse', native_headers(event_type(EVENT), ce_id=marker))
        [record] = await wait_for(stack.access, "dlq.milo_adapter", caused_by(marker))
        href = f"/dlq/milo_adapter/{record.partition}/{record.offset}"

        listing = await client.get("/dlq", params={"service": "milo_adapter", "partenaire": "imilo"})
        assert f'href="{href}"' in listing.text
        page = (await client.get(href)).text
        assert f"<td>correlation_id</td><td>{marker}</td>" in page
        assert "<td>topic source</td><td>in.imilo</td>" in page
        # Not JSON: shown through the text redaction, nothing to mask.
        assert '<pre id="corps">{&quot;casse</pre>' in page

        async with asyncio.timeout(15):  # the hop's counts are flushed after its batch is committed
            while (after := await _imilo_row(client))[1] <= before[1]:
                await asyncio.sleep(0.2)
        assert after[0] >= before[0] + 1 and after[1] >= before[1] + 1


async def test_the_open_data_of_a_month_is_downloaded_from_the_console(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    """The same files as ``passerelle indicateurs export``, read from the topics, zipped with their schema."""
    assert stack.console_url and stack.console_credential
    marker = f"opendata-{uuid.uuid4().hex[:8]}"
    await send(producer, "in.imilo", positionnement(marker), native_headers(ce_id=marker))
    await wait_for(stack.access, "canon.formation.Positionnement", caused_by(marker))
    headers = {"Authorization": stack.console_credential.authorization}
    async with httpx.AsyncClient(base_url=stack.console_url, headers=headers, timeout=60) as client:
        assert "Télécharger" in (await client.get("/donnees-ouvertes")).text
        refused = await client.get("/donnees-ouvertes/archive", params={"periode": "2026-13", "format": "csv"})
        assert refused.status_code == 400
        answer = await client.get("/donnees-ouvertes/archive", params={"periode": MONTH, "format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert f"indicateurs-convention-{MONTH}-csv.zip" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        assert sorted(bundle.namelist()) == [f"indicateurs-convention-{MONTH}.csv", SCHEMA_FILE]
        rows = list(csv.DictReader(io.StringIO(bundle.read(f"indicateurs-convention-{MONTH}.csv").decode())))
    assert "FR" in {row["region"] for row in rows}  # at least this positionnement, in its region and France
