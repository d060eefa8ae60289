"""``passerelle service run``: one service in the foreground, as a container runs it."""

from __future__ import annotations

import asyncio

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
    port = settings.metrics_port or 9100
    Console(stderr=True).print(f"{name} : métriques sur http://{host}:{port}/metrics")
    asyncio.run(http_server(runtime, host, port).serve())
