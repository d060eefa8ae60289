"""The console in a real browser (Debian's Chromium driven by Playwright) over the running stack.

A Region's CSV export with one bad row is followed from the dead-letter list to its corrected replay and its
delivery to I-MILO; a partner's view is read; the audit chain is verified; a read-only user cannot replay.
Set CONSOLE_SCREENSHOTS to a folder (docs/console) to save the screenshots of the documentation.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from passerelle.core.envelope import event_type
from passerelle.simulation import native as simulated
from passerelle.stack.local import Stack
from tests.dialect_context import PSEUDO, SHAPES
from tests.flows import caused_by, native_headers, send, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.parametrize("broker_kind", ["tansu"], indirect=True)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STATUS = "formation.StatutCandidature"
CAPTURES = os.environ.get("CONSOLE_SCREENSHOTS")

playwright_api = pytest.importorskip("playwright.async_api", reason="Playwright absent : pip install playwright")
if CHROMIUM is None:
    pytest.skip("Chromium absent : apt-get install -y chromium (aucun navigateur téléchargé)", allow_module_level=True)


def status_csv(marker: str) -> bytes:
    """Region-53's export: line 2 fine, line 3 with a status the contract does not know."""
    rows = [
        {
            "idPositionnement": f"P-{marker}-{i}",
            "pseudonyme": PSEUDO("imilo", f"D-{marker}"),
            "idSession": "53:1",
            "codeStructure": "35238S00",
            "statut": "ADMIS",
            "dateStatut": dt.date(2026, 3, 2),
        }
        for i in range(2)
    ]
    text = simulated.region_csv_file(STATUS, rows, SHAPES[STATUS], "latin-1").decode("latin-1")
    lines = text.split("\r\n")
    lines[2] = lines[2].replace("ADMIS", "PEUT-ETRE")
    return "\r\n".join(lines).encode("latin-1")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as driver:
        # Root in a container has no user namespaces for Chromium's sandbox; the pages are our own, on 127.0.0.1.
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def capture(page: Any, name: str) -> None:
    if CAPTURES:  # Playwright creates the folder
        await page.screenshot(path=str(Path(CAPTURES) / f"{name}.png"))


async def log_in(browser: Any, url: str, user: str, password: str) -> Any:
    context = await browser.new_context(base_url=url, viewport={"width": 1200, "height": 760}, locale="fr-FR")
    page = await context.new_page()
    await page.goto("/dlq")
    assert "/connexion" in page.url  # every page asks for a login first
    await capture(page, "connexion")
    await page.get_by_label("Utilisateur").fill(user)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter", exact=True).click()
    await page.wait_for_url(re.compile(r"/dlq$"))
    return page


async def test_a_rejected_csv_row_is_fixed_replayed_and_delivered(
    stack: Stack, producer: AIOKafkaProducer, browser: Any
) -> None:
    assert stack.console_url and stack.console_credential and stack.console_reader
    marker = uuid.uuid4().hex[:10]
    await send(producer, "in.region-53", status_csv(marker), native_headers(event_type(STATUS), ce_id=marker))
    [dead] = await wait_for(stack.access, "dlq.region_adapter", caused_by(marker))
    href = f"/dlq/region_adapter/{dead.partition}/{dead.offset}"

    operator = stack.console_credential
    page = await log_in(browser, stack.console_url, operator.user, operator.password.get_secret_value())
    await page.get_by_label("partenaire").fill("region-53")
    await page.get_by_label("événement").select_option(STATUS)
    await page.get_by_role("button", name="Filtrer").click()
    row = page.locator("tr", has=page.locator(f'a[href="{href}"]'))
    await row.wait_for()
    assert "ligne 3" in await row.inner_text()  # the line number, on the list already
    await capture(page, "lettres-mortes")

    await page.locator(f'a[href="{href}"]').click()
    await page.wait_for_url(re.compile(re.escape(href)))
    error = await page.locator("table").first.inner_text()
    assert "ligne 3" in error and "statut" in error
    await capture(page, "message-en-erreur")

    await page.get_by_role("link", name="Voir le message brut").first.click()
    body = await page.locator('textarea[name="corps"]').input_value()
    lines = body.replace("\r\n", "\n").split("\n")
    assert "PEUT-ETRE" in lines[2]
    # Only the header and the corrected row: line 2 was accepted already.
    await page.locator('textarea[name="corps"]').fill("\r\n".join([lines[0], lines[2].replace("PEUT-ETRE", "ADMIS")]))
    await page.get_by_role("button", name="Rejouer le message corrigé…").click()
    await page.get_by_role("heading", name="Confirmer le rejeu").wait_for()
    assert "corrigé" in await page.locator("table").first.inner_text()
    await capture(page, "confirmation-du-rejeu")
    await page.get_by_role("button", name="Confirmer le rejeu").click()
    await page.wait_for_url(re.compile(r"/rejeux\?lot="))

    # The journal page refreshes itself until the replayed row is delivered to I-MILO.
    delivered = page.locator("span.ok", has_text="livré")
    await delivered.wait_for(timeout=60_000)
    outcome = await page.locator("tbody tr").first.inner_text()
    assert "out.imilo" in outcome and operator.user in outcome and "corrigé" in outcome
    await capture(page, "rejeu-livre")
    fixed_row = f"P-{marker}-1"
    out = await wait_for(stack.access, "out.imilo", caused_by(marker), count=2, timeout_s=30)
    assert any(fixed_row in (r.value or b"").decode("utf-8", "replace") for r in out), "la ligne corrigée est livrée"

    await page.goto("/partenaires/region-53")
    assert "Champs reçus" in await page.content()
    await capture(page, "vue-partenaire")
    await page.goto("/contrats/formation.Positionnement")
    await capture(page, "contrat")
    await page.goto("/audit")
    await page.get_by_role("link", name="Vérifier la chaîne signée").click()
    await page.get_by_text("Journal intègre").wait_for()
    await capture(page, "audit-verifie")
    await page.goto("/")
    # The delivery to I-MILO was measured by the adapter that wrote it: its end-to-end latency is on the page.
    cells = rf"<td>imilo</td><td>reçoit</td><td>{re.escape(STATUS)}</td>(?:<td>[^<]*</td>){{4}}<td>([^<]*)</td>"
    latency = re.search(cells, await page.content())
    assert latency and re.fullmatch(r"(&gt; )?\d+(,\d)? m?s", latency[1]), latency
    await capture(page, "flux")
    await page.context.close()

    reader = stack.console_reader
    readonly = await log_in(browser, stack.console_url, reader.user, reader.password.get_secret_value())
    await readonly.goto(href)
    assert await readonly.get_by_role("button", name=re.compile("Rejouer")).count() == 0
    assert "Rejeu réservé au rôle opérateur." in await readonly.content()
    await readonly.goto("/contrats/valider")
    token = await readonly.locator('input[name="csrf"]').first.get_attribute("value")
    refused = await readonly.context.request.post(
        "/rejouer", form={"csrf": token or "", "ref": href.removeprefix("/dlq/"), "confirme": "1"}
    )
    assert refused.status == 403 and "lecture seule" in await refused.text()
    await readonly.context.close()
