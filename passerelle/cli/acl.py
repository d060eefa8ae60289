"""``passerelle acl plan|apply``: the cluster's ACLs made to match the partner profiles and the services' hops.

Run as the operator (``PASSERELLE_KAFKA_USERNAME=admin`` or any super user). Onboarding or removing a partner
is a profile change in ``contracts/partners/`` followed by ``acl apply``; ``--mots-de-passe`` also creates or
renews SCRAM credentials from a folder of ``<principal>.password`` files (mounted secrets).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from passerelle.broker.acl import AclPlan, ClusterRights
from passerelle.cli.context import CliState
from passerelle.stack.rights import principals, service_specs, wanted_grants

app = typer.Typer(help="Droits d'accès Kafka des partenaires et des services (ACL).", no_args_is_help=True)


def _plan(state: CliState) -> tuple[ClusterRights, AclPlan]:
    rights = ClusterRights(state.access())
    wanted = wanted_grants(state.profiles.ids, service_specs(state.settings))
    return rights, rights.plan(wanted)


def _show(plan: AclPlan, console: Console) -> None:
    if plan.empty:
        console.print("Les ACL du cluster sont exactement celles des profils et des services.")
    else:
        table = Table("", "principal", "opération", "ressource", title="Différence avec le cluster")
        for sign, grants in (("[green]+[/green]", plan.add), ("[red]-[/red]", plan.remove)):
            for grant in grants:
                star = "*" if grant.pattern.value == "prefixed" else ""
                table.add_row(
                    sign, grant.principal, grant.operation.value, f"{grant.resource.value}:{grant.name}{star}"
                )
        console.print(table)
        console.print(f"{len(plan.add)} à ajouter, {len(plan.remove)} à retirer.")
    for acl in plan.foreign:
        console.print(f"[yellow]ACL hors politique, laissée telle quelle :[/yellow] {acl}")


@app.command("plan")
def plan(ctx: typer.Context) -> None:
    """Affiche ce qu'« acl apply » ajouterait et retirerait ; code de sortie 2 s'il y a une différence."""
    state: CliState = ctx.obj
    _, difference = _plan(state)
    _show(difference, Console())
    if not difference.empty:
        raise typer.Exit(2)


@app.command("apply")
def apply(
    ctx: typer.Context,
    passwords: Path | None = typer.Option(
        None,
        "--mots-de-passe",
        help="Dossier de fichiers <principal>.password : crée ou renouvelle l'identifiant SCRAM de chacun.",
        exists=True,
        file_okay=False,
    ),
) -> None:
    """Rend les ACL du cluster identiques à la politique (ajoute puis retire ; sans effet si rien n'a changé)."""
    state: CliState = ctx.obj
    console = Console()
    rights, difference = _plan(state)
    if passwords is not None:
        found = {
            name: (passwords / f"{name}.password").read_text(encoding="utf-8").strip()
            for name in principals(state.profiles.ids)
            if (passwords / f"{name}.password").is_file()
        }
        rights.set_passwords(found)
        console.print(f"Identifiants SCRAM créés ou renouvelés : {', '.join(sorted(found)) or 'aucun'}")
    _show(difference, console)
    rights.apply(difference)
    if not difference.empty:
        console.print("[green]Appliqué.[/green]")
