"""``passerelle contracts``: check the catalogue, validate a message before going live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from passerelle.cli.context import CliState
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.compat import Level, check_catalogue
from passerelle.core.contracts.errors import ValidationFailed
from passerelle.core.contracts.lint import lint_catalogue
from passerelle.core.contracts.typed import TypedContracts

if TYPE_CHECKING:
    from passerelle.settings import Settings

app = typer.Typer(help="Avro contracts: compatibility gate and validation of messages.", no_args_is_help=True)


@app.command("check")
def check(
    schemas: Path = typer.Option(None, "--schemas", help="Contracts folder (default: the project's schemas/avro)."),
    level: Level = typer.Option(Level.FULL_TRANSITIVE, "--level", help="Compatibility level to enforce."),
) -> None:
    """Check every version of every subject for compatibility and the house rules; exit 1 on a break."""
    from passerelle.settings import Settings

    folder = schemas or Settings().schemas_dir
    catalogue = Catalogue.load(folder)
    breaks = check_catalogue(catalogue, level)
    findings = lint_catalogue(catalogue)
    console = Console()
    table = Table(title=f"Contrats ({level.value})", show_lines=False)
    table.add_column("sujet")
    table.add_column("versions", justify="right")
    table.add_column("schéma (id)", justify="right")
    table.add_column("état")
    for subject in catalogue:
        versions = catalogue.versions(subject)
        bad = any(b.subject == subject for b in breaks) or any(f.subject == subject for f in findings)
        table.add_row(
            subject,
            ", ".join(str(v.version) for v in versions),
            str(versions[-1].schema_id),
            "[red]cassé[/red]" if bad else "[green]compatible[/green]",
        )
    console.print(table)
    for b in breaks:
        console.print(f"[red]RUPTURE[/red] {b.describe()}")
    for f in findings:
        console.print(f"[red]RÈGLE[/red] {f.describe()}")
    if breaks or findings:
        console.print(f"[red]{len(breaks)} rupture(s), {len(findings)} écart(s) aux règles.[/red]")
        raise typer.Exit(1)
    console.print(f"[green]{len(list(catalogue))} sujets, tous compatibles ({level.value}).[/green]")


@app.command("validate")
def validate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Message to validate."),
    event: str = typer.Option(..., "--event", "-e", help="Event type, e.g. formation.Positionnement."),
    version: str = typer.Option("latest", "--version", help="Contract version (default: latest)."),
    partner: str = typer.Option(
        None,
        "--partner",
        "-p",
        help="Validate FILE as this partner publishes it (I-MILO JSON, Region JSON/CSV, LHEO), through its "
        "adapter, instead of as a canonical JSON instance.",
    ),
) -> None:
    """Validate a message against a contract; print field-level errors in French.

    Without --partner, FILE is a canonical JSON instance (the contract's own field names). With --partner,
    FILE is a native message, translated exactly as the adapter would, and the errors are the ones the
    partner's feedback topic would carry, with native field paths and row numbers.
    """
    from passerelle.settings import Settings

    console = Console()
    settings = Settings()
    if partner:
        _validate_native(console, settings, file, event, partner)
        return
    typed = TypedContracts(Catalogue.load(settings.schemas_dir))
    try:
        typed.validate_json(event, file.read_bytes(), version)
    except ValidationFailed as exc:
        table = Table(title=f"{exc.subject} v{exc.version} : {len(exc.errors)} erreur(s)")
        for column in ("chemin", "règle", "message", "reçu"):
            table.add_column(column)
        for e in exc.errors:
            table.add_row(e.path, e.rule, e.message, e.received or "")
        console.print(table)
        raise typer.Exit(1) from None
    console.print(f"[green]{file.name} est conforme à {event} ({version}).[/green]")


def _validate_native(console: Console, settings: Settings, file: Path, event: str, partner: str) -> None:
    from passerelle.logging import configure
    from passerelle.stack.native_check import check_native_message

    configure(settings.log_format, "WARNING")  # the adapter's rejection logs would repeat the report
    report = check_native_message(settings, partner, event, file.read_bytes())
    for problem in report.problems:
        console.print(
            f"[red]rejeté[/red] {problem.get('position') or ''} {problem['chemin']} : {problem['message']}"
            + (f" (reçu : {problem['recu']})" if problem.get("recu") else "")
        )
    console.print(
        f"{file.name} ({partner}) : {report.accepted} événement(s) {event} accepté(s), {report.rejected} rejeté(s)."
    )
    if report.rejected:
        raise typer.Exit(1)


@app.command("asyncapi")
def asyncapi(
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (default: contracts/asyncapi.yaml)."),
    check: bool = typer.Option(False, "--check", help="Only check that the file is up to date; exit 1 if stale."),
) -> None:
    """Generate the AsyncAPI 3.0 document of the whole broker from the services' code."""
    from passerelle.settings import Settings
    from passerelle.stack.asyncapi import document

    settings = Settings()
    target = output or settings.contracts_dir / "asyncapi.yaml"
    text = document(settings)
    console = Console()
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            console.print(f"[red]{target.name} est périmé : lancez « passerelle contracts asyncapi ».[/red]")
            raise typer.Exit(1)
        console.print(f"[green]{target.name} est à jour.[/green]")
        return
    target.write_text(text, encoding="utf-8")
    console.print(f"AsyncAPI écrit dans {target}.")


@app.command("publish")
def publish(
    ctx: typer.Context,
    url: str | None = typer.Option(None, "--registre", help="URL du registre (défaut : PASSERELLE_REGISTRY_URL)."),
) -> None:
    """Enregistre chaque version des contrats du dépôt dans le registre, dans l'ordre, sous le sujet de son topic
    (« canon.<sujet>-value ») : ce que les services y chercheront au démarrage. Sans effet pour une version déjà
    enregistrée ; demande l'identifiant de l'opérateur du registre (PASSERELLE_REGISTRY_OPERATOR_*)."""
    import httpx

    from passerelle.runtime.registry import registry_subject
    from services.registry.settings import RegistrySettings

    state: CliState = ctx.obj
    target = url or state.settings.registry_url
    if not target:
        raise typer.BadParameter("aucun registre : --registre URL ou PASSERELLE_REGISTRY_URL")
    operator = RegistrySettings().operator()
    auth = (operator.user, operator.password.get_secret_value()) if operator else None
    table = Table("sujet du registre", "version", "id")
    with httpx.Client(base_url=target.rstrip("/"), auth=auth, timeout=30.0) as client:
        for subject in state.catalogue:
            for version in state.catalogue.versions(subject):
                name = registry_subject(subject)
                answer = client.post(f"/subjects/{name}/versions", json={"schema": version.text})
                if answer.status_code != 200:
                    raise typer.BadParameter(f"{name} v{version.version} refusé : {answer.status_code} {answer.text}")
                table.add_row(name, str(version.version), str(answer.json()["id"]))
    Console().print(table)
