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

    Les schémas sont gardés dans le topic _schemas du courtier (PASSERELLE_KAFKA_BOOTSTRAP ; le format de
    Karapace et du registre de Confluent), partagé par toutes les répliques ; sans courtier, en mémoire.

    Lecture, compatibilité et validation sont ouvertes à tous ; les écritures exigent l'identifiant de l'opérateur
    (PASSERELLE_REGISTRY_OPERATOR_USER et PASSERELLE_REGISTRY_OPERATOR_PASSWORD_FILE, en HTTP Basic). Sans
    identifiant configuré, le registre est en lecture seule.
    """
    from services.registry.app import create_app, journal_of
    from services.registry.settings import ENV_PREFIX, RegistrySettings

    state: CliState = ctx.obj
    configure(state.settings.log_format, state.settings.log_level)
    registry = RegistrySettings()
    operator = registry.operator()
    if not state.settings.kafka_bootstrap:
        structlog.get_logger("passerelle.registry").warning(
            "registre.en_memoire",
            detail="aucun courtier configuré : ce qui est enregistré sera perdu à l'arrêt",
            configuration="PASSERELLE_KAFKA_BOOTSTRAP",
        )
    if operator is None:
        structlog.get_logger("passerelle.registry").warning(
            "registre.lecture_seule",
            detail="aucun identifiant d'opérateur configuré : toute écriture est refusée (401)",
            configuration=f"{ENV_PREFIX}OPERATOR_USER et {ENV_PREFIX}OPERATOR_PASSWORD_FILE",
        )
    journal = journal_of(state.settings, state.catalogue, registry.topic, registry.replication_factor)
    app = create_app(state.catalogue, operator, journal)
    uvicorn.run(app, host=host, port=port, log_level="warning", log_config=None)
