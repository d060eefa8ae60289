"""``passerelle topics create``: every topic with the partitions and retention of its family."""

from __future__ import annotations

import typer

from passerelle.broker import topics
from passerelle.broker.admin import ensure_topics
from passerelle.cli.broker import on_broker
from passerelle.cli.context import CliState
from passerelle.cli.help import App
from passerelle.cli.render import JSON_HELP, console, emit_json

app = App(help="Gérer les topics Kafka de Passerelle.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    replication_factor: int = typer.Option(1, "--replication-factor", help="Facteur de réplication (3 en production)."),
    min_insync: int = typer.Option(
        0, "--min-insync-replicas", help="min.insync.replicas (2 en production ; 0 : valeur du broker)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Crée les topics manquants (in, canon, deliver, out, dlq, feedback, audit) pour tous les partenaires."""
    state: CliState = ctx.obj
    access = state.access()
    specs = topics.all_topics(state.profiles.ids, state.catalogue.subjects)
    if min_insync:
        specs = [s.with_config("min.insync.replicas", str(min_insync)) for s in specs]
    created = set(on_broker(access, lambda: ensure_topics(access, specs, replication_factor=replication_factor)))
    if as_json:
        emit_json(
            {
                "created": len(created),
                "existing": len(specs) - len(created),
                "topics": [
                    {
                        "name": s.name,
                        "partitions": s.partitions,
                        "retention_ms": s.retention_ms,
                        "created": s.name in created,
                    }
                    for s in specs
                ],
            }
        )
        return
    out = console()
    for spec in specs:
        mark = "[green]créé[/green]" if spec.name in created else "existant"
        out.print(f"{spec.name:45} {spec.partitions:>3} partition(s)  {mark}")
    out.print(f"{len(created)} topic(s) créé(s), {len(specs) - len(created)} déjà présent(s).")
