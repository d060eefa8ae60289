"""``passerelle service run``: one service in the foreground, as a container runs it."""

from __future__ import annotations

import asyncio
import socket

import structlog
import typer

from passerelle.cli.context import CliState
from passerelle.cli.exits import ExitCode, Misconfigured, WrongUsage, classify
from passerelle.cli.help import App
from passerelle.logging import configure
from passerelle.runtime.service import ServiceRuntime, http_server
from passerelle.settings import Settings
from passerelle.stack.deployables import SERVICES, build_service

app = App(help="Lancer un service de Passerelle (adaptateurs, routeur, indicateurs).", no_args_is_help=True)


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="SERVICE", help=f"Service : {', '.join(SERVICES)}."),
    host: str = typer.Option("0.0.0.0", "--host", help="Adresse de /metrics et /health."),
) -> None:
    """Lance un service au premier plan, avec /metrics et /health sur PASSERELLE_METRICS_PORT.

    Le broker est celui de PASSERELLE_KAFKA_BOOTSTRAP ; pour tout lancer en local sur le broker embarqué,
    utilisez « passerelle dev up ».
    """
    state: CliState = ctx.obj
    settings = state.settings
    if name not in SERVICES:
        raise WrongUsage(f"service inconnu : {name} (connus : {', '.join(SERVICES)})")
    if not settings.kafka_bootstrap:
        raise Misconfigured("PASSERELLE_KAFKA_BOOTSTRAP n'est pas défini (en local : « passerelle dev up »)")
    configure(settings.log_format, settings.log_level)
    runtime = _build(name, settings)
    # PASSERELLE_METRICS_PORT=0 (the default) picks a free port, held from here so no other process takes it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, settings.metrics_port))
    port = sock.getsockname()[1]
    # A log line like the others, so JSON mode writes nothing but JSON.
    structlog.get_logger("passerelle").info("service.metriques", service=name, url=f"http://{host}:{port}/metrics")
    asyncio.run(http_server(runtime, host, port).serve(sockets=[sock]))


def _build(name: str, settings: Settings) -> ServiceRuntime:
    try:
        return build_service(name, settings)
    except Exception as error:
        code, message = classify(error)
        if code not in (ExitCode.INVALID_INPUT, ExitCode.NOT_FOUND):
            raise
        # A service's keys, profiles and contracts are its settings: what is wrong there stops it at start.
        raise Misconfigured(message) from error
