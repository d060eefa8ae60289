"""``passerelle topics create``: every topic with the partitions and retention of its family."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from passerelle.broker import topics
from passerelle.broker.admin import ensure_topics
from passerelle.cli.context import CliState

app = typer.Typer(help="Gérer les topics Kafka de Passerelle.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    replication_factor: int = typer.Option(1, "--replication-factor", help="Facteur de réplication (3 en production)."),
    min_insync: int = typer.Option(
        0, "--min-insync-replicas", help="min.insync.replicas (2 en production ; 0 : valeur du broker)."
    ),
) -> None:
    """Crée les topics manquants (in, canon, deliver, out, dlq, feedback, audit) pour tous les partenaires."""
    state: CliState = ctx.obj
    access = state.access()
    specs = topics.all_topics(state.profiles.ids, state.catalogue.subjects)
    if min_insync:
        specs = [s.with_config("min.insync.replicas", str(min_insync)) for s in specs]
    created = asyncio.run(ensure_topics(access, specs, replication_factor=replication_factor))
    console = Console()
    for spec in specs:
        mark = "[green]créé[/green]" if spec.name in created else "existant"
        console.print(f"{spec.name:45} {spec.partitions:>3} partition(s)  {mark}")
    console.print(f"{len(created)} topic(s) créé(s), {len(specs) - len(created)} déjà présent(s).")
