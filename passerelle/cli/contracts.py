"""``passerelle contracts``: check the catalogue, validate a message before going live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from passerelle.cli.context import CliState
from passerelle.cli.exits import (
    ExitCode,
    InvalidInput,
    Misconfigured,
    NotFound,
    WrongUsage,
    existing_file,
    existing_folder,
)
from passerelle.cli.help import App
from passerelle.cli.render import JSON_HELP, console, emit_json
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.compat import CompatibilityBreak, Level, check_catalogue
from passerelle.core.contracts.errors import ValidationFailed
from passerelle.core.contracts.lint import Finding, lint_catalogue
from passerelle.core.contracts.typed import TypedContracts

app = App(help="Contrats Avro : contrôle de compatibilité et validation des messages.", no_args_is_help=True)


@app.command("check")
def check(
    ctx: typer.Context,
    schemas: Path = typer.Option(
        None, "--schemas", help="Dossier des contrats (défaut : schemas/avro du projet, PASSERELLE_SCHEMAS_DIR)."
    ),
    level: Level = typer.Option(Level.FULL_TRANSITIVE, "--level", help="Niveau de compatibilité exigé."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Vérifie la compatibilité de chaque version de chaque sujet et les règles maison ; code de sortie 1 en cas
    de rupture."""
    state: CliState = ctx.obj
    catalogue = Catalogue.load(existing_folder(schemas) if schemas else state.settings.schemas_dir)
    breaks = check_catalogue(catalogue, level)
    findings = lint_catalogue(catalogue)
    if as_json:
        emit_json(_check_as_json(catalogue, level, breaks, findings))
    else:
        _print_check(catalogue, level, breaks, findings)
    if breaks or findings:
        raise typer.Exit(ExitCode.FINDING)


def _broken(subject: str, breaks: list[CompatibilityBreak], findings: list[Finding]) -> bool:
    return any(b.subject == subject for b in breaks) or any(f.subject == subject for f in findings)


def _print_check(catalogue: Catalogue, level: Level, breaks: list[CompatibilityBreak], findings: list[Finding]) -> None:
    out = console()
    table = Table(title=f"Contrats ({level.value})", show_lines=False)
    table.add_column("sujet")
    table.add_column("versions", justify="right")
    table.add_column("schéma (id)", justify="right")
    table.add_column("état")
    for subject in catalogue:
        versions = catalogue.versions(subject)
        table.add_row(
            subject,
            ", ".join(str(v.version) for v in versions),
            str(versions[-1].schema_id),
            "[red]cassé[/red]" if _broken(subject, breaks, findings) else "[green]compatible[/green]",
        )
    out.print(table)
    for b in breaks:
        out.print(f"[red]RUPTURE[/red] {escape(b.describe())}")
    for f in findings:
        out.print(f"[red]RÈGLE[/red] {escape(f.describe())}")
    if breaks or findings:
        out.print(f"[red]{len(breaks)} rupture(s), {len(findings)} écart(s) aux règles.[/red]")
    else:
        out.print(f"[green]{len(list(catalogue))} sujets, tous compatibles ({level.value}).[/green]")


def _check_as_json(
    catalogue: Catalogue, level: Level, breaks: list[CompatibilityBreak], findings: list[Finding]
) -> dict[str, Any]:
    return {
        "level": level.value,
        "ok": not (breaks or findings),
        "subjects": [
            {
                "subject": subject,
                "versions": [v.version for v in catalogue.versions(subject)],
                "schema_id": catalogue.latest(subject).schema_id,
                "ok": not _broken(subject, breaks, findings),
            }
            for subject in catalogue
        ],
        "breaks": [
            {
                "subject": b.subject,
                "reader_version": b.reader_version,
                "writer_version": b.writer_version,
                "fields": list(b.fields),
                "rules": list(b.rules),
                "details": list(b.details),
                "description": b.describe(),
            }
            for b in breaks
        ],
        "findings": [
            {"subject": f.subject, "version": f.version, "path": f.path, "rule": f.rule, "message": f.message}
            for f in findings
        ],
    }


@app.command("validate")
def validate(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FICHIER", help="Message à valider."),
    event: str = typer.Option(..., "--event", "-e", help="Type d'événement, ex. formation.Positionnement."),
    version: str = typer.Option("latest", "--version", help="Version du contrat (défaut : la dernière)."),
    partner: str = typer.Option(
        None,
        "--partner",
        "-p",
        help="Valider FICHIER tel que ce partenaire le publie (JSON I-MILO, JSON ou CSV d'une Région, LHEO), "
        "au travers de son adaptateur, au lieu d'une instance JSON canonique.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Valide un message par rapport à un contrat ; les erreurs, champ par champ, sont en français.

    Sans --partner, FICHIER est une instance JSON canonique (avec les noms de champs du contrat). Avec
    --partner, FICHIER est un message natif, traduit exactement comme l'adaptateur le ferait, et les erreurs
    sont celles que porterait le topic de retour du partenaire, avec les chemins natifs et les numéros de
    ligne. Code de sortie 1 si le message n'est pas conforme.
    """
    state: CliState = ctx.obj
    payload = existing_file(file).read_bytes()
    if partner:
        _validate_native(state, file, payload, event, partner, as_json)
        return
    typed = TypedContracts(state.catalogue)
    contract = typed.contract(event, version)
    try:
        contract.validate_json(payload)
    except ValidationFailed as exc:
        _report_canonical(file, event, exc, as_json)
        raise typer.Exit(ExitCode.FINDING) from None
    if as_json:
        emit_json(_canonical_json(file, event, contract.schema.version, []))
        return
    console().print(f"[green]{escape(file.name)} est conforme à {escape(event)} ({escape(version)}).[/green]")


def _canonical_json(file: Path, event: str, version: int, problems: list[dict[str, Any]]) -> dict[str, Any]:
    return {"file": file.name, "event": event, "version": version, "valid": not problems, "problems": problems}


def _report_canonical(file: Path, event: str, exc: ValidationFailed, as_json: bool) -> None:
    if as_json:
        emit_json(_canonical_json(file, event, exc.version, [e.as_dict() for e in exc.errors]))
        return
    table = Table(title=f"{exc.subject} v{exc.version} : {len(exc.errors)} erreur(s)")
    for column in ("chemin", "règle", "message", "reçu"):
        table.add_column(column)
    for e in exc.errors:
        table.add_row(escape(e.path), escape(e.rule), escape(e.message), escape(e.received or ""))
    console().print(table)


def _validate_native(state: CliState, file: Path, payload: bytes, event: str, partner: str, as_json: bool) -> None:
    from passerelle.stack.native_check import check_native_message

    if state.profiles.get(partner) is None:
        raise NotFound(f"partenaire inconnu : {partner} (connus : {', '.join(state.profiles.ids)})")
    report = check_native_message(state.settings, partner, event, payload)
    if as_json:
        emit_json(
            {
                "file": file.name,
                "partner": partner,
                "event": event,
                "valid": not report.rejected,
                "accepted": report.accepted,
                "rejected": report.rejected,
                "problems": report.problems,
            }
        )
    else:
        _print_native(file, partner, event, report.accepted, report.rejected, report.problems)
    if report.rejected:
        raise typer.Exit(ExitCode.FINDING)


def _print_native(
    file: Path, partner: str, event: str, accepted: int, rejected: int, problems: list[dict[str, Any]]
) -> None:
    out = console()
    for problem in problems:
        received = f" (reçu : {problem['recu']})" if problem.get("recu") else ""
        line = f"{problem.get('position') or ''} {problem['chemin']} : {problem['message']}{received}"
        out.print(f"[red]rejeté[/red] {escape(line)}")
    out.print(
        f"{file.name} ({partner}) : {accepted} événement(s) {event} accepté(s), {rejected} rejeté(s).", markup=False
    )


@app.command("asyncapi")
def asyncapi(
    ctx: typer.Context,
    output: Path = typer.Option(
        None, "--output", "-o", help="Écrire dans ce fichier (défaut : contracts/asyncapi.yaml)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Vérifier seulement que le fichier est à jour ; code de sortie 1 s'il est périmé."
    ),
) -> None:
    """Génère le document AsyncAPI 3.0 de tout le broker à partir du code des services."""
    from passerelle.stack.asyncapi import document

    state: CliState = ctx.obj
    target = output or state.settings.contracts_dir / "asyncapi.yaml"
    _write_or_check(target, document(state.settings), "asyncapi", check)


@app.command("openapi")
def openapi(
    ctx: typer.Context,
    output: Path = typer.Option(
        None, "--output", "-o", help="Écrire dans ce fichier (défaut : contracts/openapi.yaml)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Vérifier seulement que le fichier est à jour ; code de sortie 1 s'il est périmé."
    ),
) -> None:
    """Génère le document OpenAPI 3.1 de l'API des partenaires (la passerelle HTTPS) à partir de son code."""
    from passerelle.stack.openapi import document

    state: CliState = ctx.obj
    target = output or state.settings.contracts_dir / "openapi.yaml"
    _write_or_check(target, document(state.settings), "openapi", check)


def _write_or_check(target: Path, text: str, command: str, check: bool) -> None:
    """A generated document: written, or with ``--check`` compared with the committed one (exit 1 when stale)."""
    out = console()
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            out.print(f"[red]{escape(target.name)} est périmé : lancez « passerelle contracts {command} ».[/red]")
            raise typer.Exit(ExitCode.FINDING)
        out.print(f"[green]{escape(target.name)} est à jour.[/green]")
        return
    target.write_text(text, encoding="utf-8")
    out.print(f"{'AsyncAPI' if command == 'asyncapi' else 'OpenAPI'} écrit dans {target}.", markup=False)


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
        raise WrongUsage("aucun registre : --registre URL ou PASSERELLE_REGISTRY_URL")
    operator = RegistrySettings().operator()
    auth = (operator.user, operator.password.get_secret_value()) if operator else None
    table = Table("sujet du registre", "version", "id")
    with httpx.Client(base_url=target.rstrip("/"), auth=auth, timeout=30.0) as client:
        for subject in state.catalogue:
            for version in state.catalogue.versions(subject):
                name = registry_subject(subject)
                answer = client.post(f"/subjects/{name}/versions", json={"schema": version.text})
                _accepted(answer.status_code, answer.text, f"{name} v{version.version}")
                table.add_row(name, str(version.version), str(answer.json()["id"]))
    console().print(table)


def _accepted(status: int, body: str, what: str) -> None:
    if status in (401, 403):  # the operator's identity is a setting
        raise Misconfigured(f"{what} refusé : {status} {body} (PASSERELLE_REGISTRY_OPERATOR_*)")
    if status != 200:
        raise InvalidInput(f"{what} refusé : {status} {body}")
