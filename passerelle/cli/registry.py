"""``passerelle registry serve``: the contract registry (Confluent-compatible subset and validation)."""

from __future__ import annotations

import typer
import uvicorn

from passerelle.cli.context import CliState

app = typer.Typer(help="Registre des contrats (compatible Confluent Schema Registry).", no_args_is_help=True)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Adresse d'écoute."),
    port: int = typer.Option(8081, "--port", help="Port (8081 comme le registre de Confluent)."),
) -> None:
    """Sert les contrats de schemas/avro/ avec des identifiants stables, et POST /validate/{événement}."""
    from services.registry.app import create_app

    state: CliState = ctx.obj
    uvicorn.run(create_app(state.catalogue), host=host, port=port, log_level="warning")
