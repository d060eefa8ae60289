"""``passerelle partners list``: who publishes and receives what, in which dialect and view."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from passerelle.cli.context import CliState

app = typer.Typer(help="Les partenaires et leurs profils.", no_args_is_help=True)


@app.command("list")
def list_partners(ctx: typer.Context) -> None:
    """Liste les partenaires, leurs flux publiés et reçus, le dialecte et la vue de chacun."""
    state: CliState = ctx.obj
    table = Table(title="Partenaires")
    for column in ("partenaire", "nom", "publie", "reçoit (dialecte, vue)"):
        table.add_column(column)
    for profile in state.profiles:
        published = "\n".join(f"{e} ({f.dialect.value})" for e, f in profile.publishes.items())
        received = "\n".join(
            f"{e} ({r.dialect.value}; {', '.join(r.view) or 'pseudonyme seul'}{'; texte libre' if r.free_text else ''})"
            for e, r in profile.receives.items()
        )
        table.add_row(profile.id, profile.name, published, received)
    Console().print(table)
