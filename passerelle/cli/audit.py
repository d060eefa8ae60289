"""``passerelle audit``: verify the signed delivery audit, and make the router's key pair."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from passerelle.broker import topics
from passerelle.broker.reader import collect
from passerelle.cli.context import CliState

app = typer.Typer(help="Journal d'audit des livraisons.", no_args_is_help=True)

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
) -> None:
    """Relit audit.deliveries depuis le début, vérifie la signature de chaque enregistrement et la continuité
    de chaque chaîne, et nomme le premier enregistrement falsifié ou rompu (code de sortie 1)."""
    from passerelle.core.audit import verify
    from passerelle.runtime.audit import read_public_keys

    state: CliState = ctx.obj
    settings = state.settings
    access = state.access()
    paths = public_keys or ([settings.audit_public_key_file] if settings.audit_public_key_file else [])
    if not paths:
        raise typer.BadParameter(
            "aucune clé publique : --public-key FICHIER ou PASSERELLE_AUDIT_PUBLIC_KEY_FILE "
            "(la clé publique du routeur, et ses anciennes clés)"
        )
    keys = read_public_keys(paths)
    records = asyncio.run(collect(access, topics.AUDIT_TOPIC))
    report = verify(((f"{r.partition}:{r.offset}", r.value or b"") for r in records), keys)
    console = Console()
    console.print(f"{report.records} enregistrement(s), {len(report.chains)} chaîne(s).")
    for kid, signed in report.signed_by.items():
        console.print(f"Clé publique {kid} : {signed} enregistrement(s) signé(s).")
    for chain, last in sorted(report.last_sequence.items()):
        console.print(f"Chaîne {escape(chain)} : dernière séquence authentique {last}.")
    if report.ok:
        console.print("[green]Journal intègre : toutes les signatures et toutes les chaînes se vérifient.[/green]")
        return
    for b in report.breaks[:SHOWN_BREAKS]:
        console.print(
            f"[red]RUPTURE[/red] {topics.AUDIT_TOPIC} {b.position} (chaîne {escape(b.chain or '?')}, "
            f"séquence {b.sequence if b.sequence is not None else '?'}) : {escape(b.reason)}"
        )
    if len(report.breaks) > SHOWN_BREAKS:
        console.print(f"… et {len(report.breaks) - SHOWN_BREAKS} autre(s) rupture(s).")
    console.print(f"[red]Journal NON intègre : {len(report.breaks)} enregistrement(s) falsifié(s) ou rompu(s).[/red]")
    raise typer.Exit(1)


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
    console = Console()
    console.print(
        f"Clé privée : {escape(str(files.signing))} (mode 0600 ; PASSERELLE_AUDIT_SIGNING_KEY_FILE du routeur)"
    )
    console.print(f"Clé publique : {escape(str(files.public))} (PASSERELLE_AUDIT_PUBLIC_KEY_FILE)")
    console.print(f"Empreinte : {kid}")
    console.print(
        "Lors d'une rotation, ajoutez la nouvelle clé publique au fichier des clés publiques "
        "et gardez les anciennes : elles vérifient les enregistrements qu'elles ont signés."
    )
