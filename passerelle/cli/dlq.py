"""``passerelle dlq list|show|replay``: what failed, why, and sending it again after a fix."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.producer import start_producer
from passerelle.broker.reader import collect
from passerelle.cli.context import CliState
from passerelle.runtime.replay import DlqEntry

app = typer.Typer(help="Inspecter et rejouer les files d'erreurs (DLQ).", no_args_is_help=True)

SERVICE_HELP = f"Service dont on lit la DLQ : {', '.join(topics.SERVICES)} (défaut : tous)."


def _entries(access: KafkaAccess, services: list[str]) -> list[DlqEntry]:
    async def read() -> list[DlqEntry]:
        out: list[DlqEntry] = []
        for service in services:
            out += [DlqEntry.from_record(r) for r in await collect(access, topics.dlq(service))]
        return out

    return asyncio.run(read())


def _services(service: str | None) -> list[str]:
    if service and service not in topics.SERVICES:
        raise typer.BadParameter(f"service inconnu : {service}")
    return [service] if service else list(topics.SERVICES)


@app.command("list")
def list_dlq(
    ctx: typer.Context,
    service: str = typer.Option(None, "--service", help=SERVICE_HELP),
    code: str = typer.Option(None, "--code", help="Seulement ce code d'erreur (ex. validation, nir, csv)."),
) -> None:
    """Liste les messages en erreur : quand, d'où, quel code, quel champ, quel message."""
    state: CliState = ctx.obj
    entries = [e for e in _entries(state.access(), _services(service)) if not code or e.error("code") == code]
    table = Table(title=f"DLQ : {len(entries)} message(s)")
    for column in ("dlq", "réf", "reçu le", "expéditeur", "source", "code", "champ", "message"):
        table.add_column(column, overflow="fold")
    for e in entries:
        when = datetime.fromtimestamp(e.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        source = f"{e.error('source_topic')}/{e.error('source_partition')}@{e.error('source_offset')}"
        position = f" ({e.error('position')})" if e.error("position") else ""
        # The topic says who wrote it; a header only claims it (a forged one is why some records are here).
        sender = topics.sender_of(e.error("source_topic")) or e.header("passerelle_sender") or e.header("ce_source")
        table.add_row(
            e.topic, e.ref, when, sender, source, e.error("code"), e.error("path") + position, e.error("message")
        )
    Console().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Référence PARTITION:OFFSET donnée par « dlq list »."),
    service: str = typer.Option(..., "--service", help=SERVICE_HELP),
    payload: bool = typer.Option(
        False, "--payload", help="Afficher aussi le message d'origine (données personnelles possibles)."
    ),
) -> None:
    """Montre un message en erreur : toutes ses erreurs, ses en-têtes et, sur demande, son contenu."""
    state: CliState = ctx.obj
    matches = [e for e in _entries(state.access(), _services(service)) if e.ref == ref]
    if not matches:
        raise typer.BadParameter(f"aucun message {ref} dans {topics.dlq(service)}")
    entry = matches[0]
    console = Console()
    console.print(f"[bold]{entry.topic} {entry.ref}[/bold] : {entry.error('code')} — {entry.error('message')}")
    console.print(f"contrat : {entry.error('contract') or '-'}   position : {entry.error('position') or '-'}")
    for problem in entry.details:
        console.print(
            f"  • {problem.get('chemin')} [{problem.get('regle')}] {problem.get('message')}"
            f" (attendu : {problem.get('attendu') or '-'}, reçu : {problem.get('recu') or '-'})"
        )
    for key, value in entry.headers:
        console.print(f"  {key} = {(value or b'').decode('utf-8', 'replace')}", highlight=False)
    if payload:
        console.print(entry.value.decode("utf-8", "replace"), highlight=False, markup=False)


@app.command("replay")
def replay(
    ctx: typer.Context,
    service: str = typer.Option(..., "--service", help=SERVICE_HELP),
    ref: list[str] = typer.Option(None, "--ref", help="PARTITION:OFFSET à rejouer (répétable)."),
    code: str = typer.Option(None, "--code", help="Rejouer tous les messages de ce code d'erreur."),
    all_: bool = typer.Option(False, "--all", help="Rejouer toute la DLQ du service."),
) -> None:
    """Renvoie des messages en erreur vers leur topic d'origine, après correction (profil, référentiel, code)."""
    state: CliState = ctx.obj
    if not (ref or code or all_):
        raise typer.BadParameter("précisez --ref, --code ou --all")
    access = state.access()
    entries = [
        e
        for e in _entries(access, _services(service))
        if all_ or (ref and e.ref in ref) or (code and e.error("code") == code)
    ]
    outputs = [e.replay() for e in entries]

    async def send() -> None:
        producer = await start_producer(state.settings)
        try:
            futures = [await producer.send(o.topic, o.value, key=o.key, headers=o.headers) for o in outputs]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(send())
    Console().print(f"{len(outputs)} message(s) rejoué(s) depuis {topics.dlq(service)}.")
