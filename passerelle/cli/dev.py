"""``passerelle dev up``: the whole Passerelle on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer
from rich.console import Console

from passerelle.cli.context import CliState
from passerelle.logging import configure
from passerelle.stack.local import BrokerKind, Stack, print_addresses

app = typer.Typer(help="Environnement local : broker embarqué, registre et services.", no_args_is_help=True)


async def run_until_stopped(stack: Stack, console: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stack.start()
    try:
        print_addresses(stack, console)
        console.print("Ctrl-C pour tout arrêter.")
        await stop.wait()
    finally:
        console.print("Arrêt…")
        await stack.stop()


@app.command("up")
def up(
    ctx: typer.Context,
    broker: str = typer.Option(
        "tansu",
        "--broker",
        help="tansu : broker embarqué, en mémoire ; kafka : Apache Kafka, données gardées pour la reprise.",
    ),
    data_dir: Path = typer.Option(
        Path(".passerelle"),
        "--donnees",
        help="Dossier des données d'Apache Kafka et des clés d'audit (--broker kafka) : un nouveau « dev up » reprend.",
    ),
) -> None:
    """Démarre un broker (sauf si PASSERELLE_KAFKA_BOOTSTRAP est défini), le registre et tous les services.

    Affiche l'adresse du broker, l'URL du registre et chaque URL /metrics ; Ctrl-C arrête tout proprement.
    """
    if broker not in ("tansu", "kafka"):
        raise typer.BadParameter("--broker attend tansu ou kafka")
    state: CliState = ctx.obj
    configure(state.settings.log_format, "WARNING")
    console = Console()
    kind: BrokerKind = "kafka" if broker == "kafka" else "tansu"
    stack = Stack(state.settings, broker_kind=kind, data_dir=data_dir.resolve() if kind == "kafka" else None)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_until_stopped(stack, console))
