"""``passerelle indicateurs export``: the agreement's indicators as open data, with their Table Schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.markup import escape

from passerelle.cli.broker import on_broker
from passerelle.cli.context import CliState
from passerelle.cli.exits import WrongUsage
from passerelle.cli.help import App
from passerelle.cli.render import JSON_HELP, console, emit_json
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.opendata import THRESHOLD
from passerelle.runtime.registry import RegistryReader
from services.indicators.opendata import MONTH, Export, Format, export, state_from_broker

app = App(help="Indicateurs de la convention cadre : export en données ouvertes.", no_args_is_help=True)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    periode: str = typer.Option(
        ..., "--periode", help="Mois exporté, AAAA-MM (mois du positionnement ou du signalement)."
    ),
    formats: list[Format] = typer.Option(
        [Format.CSV.value], "--format", help="Format des fichiers : csv ou parquet (répétable ; défaut : csv)."
    ),
    sortie: Path = typer.Option(
        Path("donnees-ouvertes"), "--sortie", help="Dossier où écrire les fichiers et schema.json (créé au besoin)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Relit les topics canoniques, calcule les indicateurs de la convention par région pour le mois demandé
    (avec une ligne France), masque les petits effectifs (secret statistique : moins de 11 jeunes, y compris
    par différence) et écrit les fichiers avec leur schéma de table (schema.json). Voir docs/open-data.md."""
    state: CliState = ctx.obj
    if not MONTH.match(periode):
        raise WrongUsage(f"période invalide : {periode} (attendu AAAA-MM, par ex. 2026-10)")
    if sortie.exists() and not sortie.is_dir():
        raise WrongUsage(f"--sortie doit être un dossier : {sortie}")
    access = state.access()
    url = state.settings.registry_url
    # Records framed by another registry's ids are read with the writer schema it serves.
    codec = AvroCodec(state.catalogue, RegistryReader(url).fetch if url else None)
    with console(stderr=True).status("Relecture des topics canoniques…"):
        indicators = on_broker(access, lambda: state_from_broker(access, codec))
    extracted_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    done = export(indicators, [periode], sortie, formats, extracted_at)
    if as_json:
        emit_json(
            {
                "period": periode,
                "threshold": THRESHOLD,
                "rows": done.rows,
                "masked_cells": done.masked,
                "files": [str(path) for path in done.files],
            }
        )
        return
    _print(done, periode)


def _print(done: Export, periode: str) -> None:
    out = console()
    if not done.rows:
        out.print(f"Aucun positionnement ni signalement pour {periode} : fichiers écrits sans ligne.")
    else:
        out.print(
            f"{done.rows} ligne(s) pour {periode} (régions et France), {done.masked} cellule(s) masquée(s) "
            f"au titre du secret statistique (moins de {THRESHOLD} jeunes, y compris par différence)."
        )
    for path in done.files:
        out.print(f"  {escape(str(path))}")
