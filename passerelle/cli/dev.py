"""``passerelle dev up``: the whole Passerelle on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer
from rich.console import Console

from passerelle.cli.context import CliState
from passerelle.logging import configure
from passerelle.stack.local import Stack, print_addresses

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
def up(ctx: typer.Context) -> None:
    """Démarre le broker embarqué (sauf si PASSERELLE_KAFKA_BOOTSTRAP est défini), le registre et tous les services.

    Affiche l'adresse du broker, l'URL du registre et chaque URL /metrics ; Ctrl-C arrête tout proprement.
    """
    state: CliState = ctx.obj
    configure(state.settings.log_format, "WARNING")
    console = Console()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_until_stopped(Stack(state.settings), console))
