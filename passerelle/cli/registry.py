"""``passerelle registry serve``: the contract registry (Confluent-compatible subset and validation)."""

from __future__ import annotations

import structlog
import typer
import uvicorn

from passerelle.cli.context import CliState
from passerelle.logging import configure

app = typer.Typer(help="Registre des contrats (compatible Confluent Schema Registry).", no_args_is_help=True)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Adresse d'écoute."),
    port: int = typer.Option(8081, "--port", help="Port (8081 comme le registre de Confluent)."),
) -> None:
    """Sert les contrats de schemas/avro/ avec des identifiants stables, et POST /validate/{événement}.

    Lecture, compatibilité et validation sont ouvertes à tous ; les écritures exigent l'identifiant de l'opérateur
    (PASSERELLE_REGISTRY_OPERATOR_USER et PASSERELLE_REGISTRY_OPERATOR_PASSWORD_FILE, en HTTP Basic). Sans
    identifiant configuré, le registre est en lecture seule.
    """
    from services.registry.app import create_app
    from services.registry.settings import ENV_PREFIX, RegistrySettings

    state: CliState = ctx.obj
    configure(state.settings.log_format, state.settings.log_level)
    operator = RegistrySettings().operator()
    if operator is None:
        structlog.get_logger("passerelle.registry").warning(
            "registre.lecture_seule",
            detail="aucun identifiant d'opérateur configuré : toute écriture est refusée (401)",
            configuration=f"{ENV_PREFIX}OPERATOR_USER et {ENV_PREFIX}OPERATOR_PASSWORD_FILE",
        )
    uvicorn.run(create_app(state.catalogue, operator), host=host, port=port, log_level="warning")
