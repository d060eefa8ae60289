"""``passerelle audit``: verify the signed delivery audit, and make the router's key pair."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from passerelle.broker import topics
from passerelle.broker.reader import collect
from passerelle.cli.broker import on_broker
from passerelle.cli.context import CliState
from passerelle.cli.exits import ExitCode, InvalidInput, NotFound, WrongUsage
from passerelle.cli.help import App
from passerelle.cli.render import JSON_HELP, console, emit_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from passerelle.core.audit import VerifyReport

app = App(help="Journal d'audit des livraisons.", no_args_is_help=True)

# Beyond this, the first breaks say where to look; the count says how much.
SHOWN_BREAKS = 50


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    public_keys: list[Path] | None = typer.Option(
        None,
        "--public-key",
        help="Fichier PEM de clés publiques (répétable) ; par défaut PASSERELLE_AUDIT_PUBLIC_KEY_FILE.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Relit audit.deliveries depuis le début, vérifie la signature de chaque enregistrement et la continuité
    de chaque chaîne, et nomme le premier enregistrement falsifié ou rompu (code de sortie 1)."""
    from passerelle.core.audit import verify

    state: CliState = ctx.obj
    settings = state.settings
    access = state.access()
    paths = public_keys or ([settings.audit_public_key_file] if settings.audit_public_key_file else [])
    if not paths:
        raise WrongUsage(
            "aucune clé publique : --public-key FICHIER ou PASSERELLE_AUDIT_PUBLIC_KEY_FILE "
            "(la clé publique du routeur, et ses anciennes clés)"
        )
    keys = _public_keys(paths)
    records = on_broker(access, lambda: collect(access, topics.AUDIT_TOPIC))
    report = verify(((f"{r.partition}:{r.offset}", r.value or b"") for r in records), keys)
    if as_json:
        emit_json(_as_json(report))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(ExitCode.FINDING)


def _public_keys(paths: list[Path]) -> list[Ed25519PublicKey]:
    from passerelle.core.audit import AuditKeyError
    from passerelle.runtime.audit import read_public_keys

    try:
        return read_public_keys(paths)
    except AuditKeyError as error:
        missing = any(not path.is_file() for path in paths)
        raise (NotFound if missing else InvalidInput)(str(error)) from None


def _as_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "records": report.records,
        "chains": report.chains,
        "last_sequence": report.last_sequence,
        "signed_by": report.signed_by,
        "breaks": [
            {"position": b.position, "chain": b.chain, "sequence": b.sequence, "reason": b.reason}
            for b in report.breaks
        ],
    }


def _print_report(report: VerifyReport) -> None:
    out = console()
    out.print(f"{report.records} enregistrement(s), {len(report.chains)} chaîne(s).")
    for kid, signed in report.signed_by.items():
        out.print(f"Clé publique {kid} : {signed} enregistrement(s) signé(s).")
    for chain, last in sorted(report.last_sequence.items()):
        out.print(f"Chaîne {escape(chain)} : dernière séquence authentique {last}.")
    if report.ok:
        out.print("[green]Journal intègre : toutes les signatures et toutes les chaînes se vérifient.[/green]")
        return
    for b in report.breaks[:SHOWN_BREAKS]:
        out.print(
            f"[red]RUPTURE[/red] {topics.AUDIT_TOPIC} {b.position} (chaîne {escape(b.chain or '?')}, "
            f"séquence {b.sequence if b.sequence is not None else '?'}) : {escape(b.reason)}"
        )
    if len(report.breaks) > SHOWN_BREAKS:
        out.print(f"… et {len(report.breaks) - SHOWN_BREAKS} autre(s) rupture(s).")
    out.print(f"[red]Journal NON intègre : {len(report.breaks)} enregistrement(s) falsifié(s) ou rompu(s).[/red]")


@app.command("keygen")
def keygen_cmd(
    out: Path = typer.Option(..., "--out", help="Dossier où écrire audit-signing.pem et audit-public.pem."),
) -> None:
    """Crée la paire de clés Ed25519 du routeur : audit-signing.pem (privée, mode 0600, pour le routeur seul)
    et audit-public.pem (publique, pour « passerelle audit verify »). N'écrase jamais une clé existante."""
    from passerelle.core.audit import AuditSigner, load_signing_key
    from passerelle.runtime.audit import write_key_pair

    files = write_key_pair(out)
    kid = AuditSigner(load_signing_key(files.signing.read_bytes())).key_id
    screen = console()
    screen.print(
        f"Clé privée : {escape(str(files.signing))} (mode 0600 ; PASSERELLE_AUDIT_SIGNING_KEY_FILE du routeur)"
    )
    screen.print(f"Clé publique : {escape(str(files.public))} (PASSERELLE_AUDIT_PUBLIC_KEY_FILE)")
    screen.print(f"Empreinte : {kid}")
    screen.print(
        "Lors d'une rotation, ajoutez la nouvelle clé publique au fichier des clés publiques "
        "et gardez les anciennes : elles vérifient les enregistrements qu'elles ont signés."
    )
