"""``passerelle partners list``: who publishes and receives what, in which dialect and view."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from passerelle.cli.context import CliState
from passerelle.cli.help import App
from passerelle.cli.render import JSON_HELP, console, emit_json
from passerelle.core.partners import PartnerProfile

app = App(help="Les partenaires et leurs profils.", no_args_is_help=True)


@app.command("list")
def list_partners(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Liste les partenaires, leurs flux publiés et reçus, le dialecte et la vue de chacun."""
    state: CliState = ctx.obj
    if as_json:
        emit_json({"partners": [_as_json(profile) for profile in state.profiles]})
        return
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
    console().print(table)


def _as_json(profile: PartnerProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "family": profile.family,
        "region": profile.region,
        "publishes": [{"event": e, "dialect": f.dialect.value} for e, f in profile.publishes.items()],
        "receives": [
            {"event": e, "dialect": r.dialect.value, "view": list(r.view), "free_text": r.free_text}
            for e, r in profile.receives.items()
        ],
    }
