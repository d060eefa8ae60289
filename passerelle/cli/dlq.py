"""``passerelle dlq list|show|replay``: what failed, why, and sending it again after a fix."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.producer import start_producer
from passerelle.broker.reader import collect
from passerelle.cli.broker import on_broker
from passerelle.cli.context import CliState
from passerelle.cli.exits import InvalidInput, NotFound, WrongUsage
from passerelle.cli.help import App
from passerelle.cli.render import JSON_HELP, console, emit_json, timestamp
from passerelle.runtime.replay import DlqEntry
from passerelle.settings import Settings

app = App(help="Inspecter et rejouer les files d'erreurs (DLQ).", no_args_is_help=True)

SERVICE_HELP = f"Service dont on lit la DLQ : {', '.join(topics.SERVICES)} (défaut : tous)."


async def _read(access: KafkaAccess, services: list[str]) -> list[DlqEntry]:
    out: list[DlqEntry] = []
    for service in services:
        out += [DlqEntry.from_record(r) for r in await collect(access, topics.dlq(service))]
    return out


def _entries(access: KafkaAccess, services: list[str]) -> list[DlqEntry]:
    return on_broker(access, lambda: _read(access, services))


def _services(service: str | None) -> list[str]:
    if service and service not in topics.SERVICES:
        raise WrongUsage(f"service inconnu : {service} (connus : {', '.join(topics.SERVICES)})")
    return [service] if service else list(topics.SERVICES)


def _sender(entry: DlqEntry) -> str:
    # The topic says who wrote it; a header only claims it (a forged one is why some records are here).
    return (
        topics.sender_of(entry.error("source_topic"))
        or entry.header("passerelle_sender")
        or entry.original("ce_source")
    )


def _as_json(entry: DlqEntry) -> dict[str, Any]:
    """One DLQ record for scripts: where, when, who, and its problems as the feedback topic carries them."""
    return {
        "dlq": entry.topic,
        "ref": entry.ref,
        "received_at": timestamp(entry.timestamp_ms),
        "sender": _sender(entry),
        "service": entry.error("service"),
        "source": {
            "topic": entry.error("source_topic"),
            "partition": _number(entry.error("source_partition")),
            "offset": _number(entry.error("source_offset")),
        },
        "code": entry.error("code"),
        "path": entry.error("path"),
        "position": entry.error("position"),
        "message": entry.error("message"),
        "contract": entry.error("contract"),
        "problems": entry.details,
    }


def _number(header: str) -> int | None:
    return int(header) if header.isdigit() else None


def _table(entries: list[DlqEntry]) -> Table:
    table = Table(title=f"DLQ : {len(entries)} message(s)")
    for column in ("dlq", "réf", "reçu le", "expéditeur", "source", "code", "champ", "message"):
        table.add_column(column, overflow="fold")
    for e in entries:
        when = timestamp(e.timestamp_ms).replace("T", " ")[:19]
        source = f"{e.error('source_topic')}/{e.error('source_partition')}@{e.error('source_offset')}"
        position = f" ({e.error('position')})" if e.error("position") else ""
        table.add_row(
            e.topic, e.ref, when, _sender(e), source, e.error("code"), e.error("path") + position, e.error("message")
        )
    return table


@app.command("list")
def list_dlq(
    ctx: typer.Context,
    service: str = typer.Option(None, "--service", help=SERVICE_HELP),
    code: str = typer.Option(None, "--code", help="Seulement ce code d'erreur (ex. validation, nir, csv)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Liste les messages en erreur : quand, d'où, quel code, quel champ, quel message."""
    state: CliState = ctx.obj
    services = _services(service)
    entries = [e for e in _entries(state.access(), services) if not code or e.error("code") == code]
    if as_json:
        emit_json({"count": len(entries), "messages": [_as_json(e) for e in entries]})
        return
    console().print(_table(entries))


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
    services = _services(service)
    matches = [e for e in _entries(state.access(), services) if e.ref == ref]
    if not matches:
        raise NotFound(f"aucun message {ref} dans {topics.dlq(service)}")
    entry = matches[0]
    out = console()
    summary = f"{entry.error('code')} — {entry.error('message')}"
    out.print(f"[bold]{entry.topic} {entry.ref}[/bold] : {escape(summary)}")
    out.print(f"contrat : {entry.error('contract') or '-'}   position : {entry.error('position') or '-'}", markup=False)
    for problem in entry.details:
        out.print(
            f"  • {problem.get('chemin')} [{problem.get('regle')}] {problem.get('message')}"
            f" (attendu : {problem.get('attendu') or '-'}, reçu : {problem.get('recu') or '-'})",
            markup=False,
        )
    for key, value in entry.headers:
        out.print(f"  {key} = {(value or b'').decode('utf-8', 'replace')}", markup=False)
    if payload:
        out.print(entry.value.decode("utf-8", "replace"), markup=False)


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
        raise WrongUsage("précisez --ref, --code ou --all")
    services = _services(service)
    access = state.access()

    def chosen(entry: DlqEntry) -> bool:
        return all_ or bool(ref and entry.ref in ref) or bool(code and entry.error("code") == code)

    async def read_and_send() -> int:
        entries = [e for e in await _read(access, services) if chosen(e)]
        await _send(state.settings, entries)
        return len(entries)

    count = on_broker(access, read_and_send)
    console().print(f"{count} message(s) rejoué(s) depuis {topics.dlq(service)}.")


async def _send(settings: Settings, entries: list[DlqEntry]) -> None:
    try:
        outputs = [e.replay() for e in entries]
    except ValueError as error:  # a record that does not say where it came from cannot go back there
        raise InvalidInput(str(error)) from None
    producer = await start_producer(settings)
    try:
        futures = [await producer.send(o.topic, o.value, key=o.key, headers=o.headers) for o in outputs]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
