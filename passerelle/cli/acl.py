"""``passerelle acl plan|apply``: the cluster's ACLs made to match the partner profiles and the services' hops.

Run as the operator (``PASSERELLE_KAFKA_USERNAME=admin`` or any super user). Onboarding or removing a partner
is a profile change in ``contracts/partners/`` followed by ``acl apply``; ``--mots-de-passe`` also creates or
renews SCRAM credentials from a folder of ``<principal>.password`` files (mounted secrets).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from passerelle.broker.acl import AclPlan, ClusterRights
from passerelle.cli.broker import reach
from passerelle.cli.context import CliState
from passerelle.cli.exits import ExitCode, existing_folder
from passerelle.cli.help import App
from passerelle.cli.render import console
from passerelle.stack.rights import principals, service_specs, wanted_grants

app = App(help="Droits d'accès Kafka des partenaires et des services (ACL).", no_args_is_help=True)


def _plan(state: CliState) -> tuple[ClusterRights, AclPlan]:
    access = state.access()
    reach(access)  # librdkafka would wait for its whole timeout before saying the cluster is not there
    rights = ClusterRights(access)
    wanted = wanted_grants(state.profiles.ids, service_specs(state.settings))
    return rights, rights.plan(wanted)


def _show(plan: AclPlan, out: Console) -> None:
    if plan.empty:
        out.print("Les ACL du cluster sont exactement celles des profils et des services.")
    else:
        table = Table("", "principal", "opération", "ressource", title="Différence avec le cluster")
        for sign, grants in (("[green]+[/green]", plan.add), ("[red]-[/red]", plan.remove)):
            for grant in grants:
                star = "*" if grant.pattern.value == "prefixed" else ""
                table.add_row(
                    sign, grant.principal, grant.operation.value, f"{grant.resource.value}:{grant.name}{star}"
                )
        out.print(table)
        out.print(f"{len(plan.add)} à ajouter, {len(plan.remove)} à retirer.")
    for acl in plan.foreign:
        out.print(f"[yellow]ACL hors politique, laissée telle quelle :[/yellow] {escape(acl)}")


@app.command("plan")
def plan(ctx: typer.Context) -> None:
    """Affiche ce qu'« acl apply » ajouterait et retirerait ; code de sortie 1 s'il y a une différence."""
    state: CliState = ctx.obj
    _, difference = _plan(state)
    _show(difference, console())
    if not difference.empty:
        raise typer.Exit(ExitCode.FINDING)


@app.command("apply")
def apply(
    ctx: typer.Context,
    passwords: Path | None = typer.Option(
        None,
        "--mots-de-passe",
        help="Dossier de fichiers <principal>.password : crée ou renouvelle l'identifiant SCRAM de chacun.",
    ),
) -> None:
    """Rend les ACL du cluster identiques à la politique (ajoute puis retire ; sans effet si rien n'a changé)."""
    state: CliState = ctx.obj
    screen = console()
    if passwords is not None:
        existing_folder(passwords)
    rights, difference = _plan(state)
    if passwords is not None:
        found = {
            name: (passwords / f"{name}.password").read_text(encoding="utf-8").strip()
            for name in principals(state.profiles.ids)
            if (passwords / f"{name}.password").is_file()
        }
        rights.set_passwords(found)
        screen.print(f"Identifiants SCRAM créés ou renouvelés : {', '.join(sorted(found)) or 'aucun'}")
    _show(difference, screen)
    rights.apply(difference)
    if not difference.empty:
        screen.print("[green]Appliqué.[/green]")
