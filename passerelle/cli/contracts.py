"""``passerelle contracts``: check the catalogue, validate a message before going live."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from passerelle.contracts.catalogue import Catalogue
from passerelle.contracts.compat import Level, check_catalogue
from passerelle.contracts.errors import ValidationFailed
from passerelle.contracts.lint import lint_catalogue
from passerelle.contracts.typed import TypedContracts

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
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON instance to validate."),
    event: str = typer.Option(..., "--event", "-e", help="Event type, e.g. formation.Positionnement."),
    version: str = typer.Option("latest", "--version", help="Contract version (default: latest)."),
) -> None:
    """Validate a JSON instance against a contract; print field-level errors in French."""
    from passerelle.settings import Settings

    typed = TypedContracts(Catalogue.load(Settings().schemas_dir))
    console = Console()
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


@app.command("asyncapi")
def asyncapi(
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (default: contracts/asyncapi.yaml)."),
    check: bool = typer.Option(False, "--check", help="Only check that the file is up to date; exit 1 if stale."),
) -> None:
    """Generate the AsyncAPI 3.0 document of the whole broker from the services' code."""
    from passerelle.asyncapi import document
    from passerelle.settings import Settings

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
