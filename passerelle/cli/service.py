"""``passerelle service run``: one service in the foreground, as a container runs it."""

from __future__ import annotations

import asyncio
import socket

import typer
from rich.console import Console

from passerelle.cli.context import CliState
from passerelle.logging import configure
from passerelle.runtime.service import http_server
from passerelle.stack.deployables import SERVICES, build_service

app = typer.Typer(help="Lancer un service de Passerelle (adaptateurs, routeur, indicateurs).", no_args_is_help=True)


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"Service : {', '.join(SERVICES)}."),
    host: str = typer.Option("0.0.0.0", "--host", help="Adresse de /metrics et /health."),
) -> None:
    """Lance un service au premier plan, avec /metrics et /health sur PASSERELLE_METRICS_PORT.

    Le broker est celui de PASSERELLE_KAFKA_BOOTSTRAP ; pour tout lancer en local sur le broker embarqué,
    utilisez « passerelle dev up ».
    """
    state: CliState = ctx.obj
    settings = state.settings
    if not settings.kafka_bootstrap:
        raise typer.BadParameter("PASSERELLE_KAFKA_BOOTSTRAP n'est pas défini (en local : « passerelle dev up »)")
    configure(settings.log_format, settings.log_level)
    runtime = build_service(name, settings)
    # PASSERELLE_METRICS_PORT=0 (the default) picks a free port, held from here so no other process takes it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, settings.metrics_port))
    port = sock.getsockname()[1]
    Console(stderr=True).print(f"{name} : métriques sur http://{host}:{port}/metrics")
    asyncio.run(http_server(runtime, host, port).serve(sockets=[sock]))
