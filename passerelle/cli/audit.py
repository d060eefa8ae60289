"""``passerelle audit verify``: recompute the delivery audit's hash chains and name the first broken record."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from passerelle.broker import topics
from passerelle.broker.reader import collect
from passerelle.cli.context import CliState

app = typer.Typer(help="Journal d'audit des livraisons.", no_args_is_help=True)


@app.command("verify")
def verify_cmd(ctx: typer.Context) -> None:
    """Relit audit.deliveries depuis le début, recalcule chaque chaîne et nomme le premier enregistrement rompu."""
    from passerelle.core.audit import verify

    state: CliState = ctx.obj
    bootstrap = state.settings.kafka_bootstrap
    if not bootstrap:
        raise typer.BadParameter("PASSERELLE_KAFKA_BOOTSTRAP n'est pas défini (voir « passerelle dev up »)")
    records = asyncio.run(collect(bootstrap, topics.AUDIT_TOPIC))
    report = verify((f"{r.partition}:{r.offset}", r.value or b"") for r in records)
    console = Console()
    console.print(f"{report.records} enregistrement(s), {len(report.chains)} chaîne(s).")
    if report.ok:
        console.print("[green]Journal intègre : toutes les chaînes se vérifient.[/green]")
        return
    for b in report.breaks:
        console.print(
            f"[red]RUPTURE[/red] {topics.AUDIT_TOPIC} {b.position} (chaîne {b.chain or '?'}, "
            f"séquence {b.sequence or '?'}) : {b.reason}"
        )
    raise typer.Exit(1)
