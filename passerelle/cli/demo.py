"""``passerelle demo``: the whole Passerelle on the embedded broker, with partners that talk to it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import typer
from rich.console import Console

from passerelle.cli.context import CliState
from passerelle.cli.render import console
from passerelle.logging import configure
from passerelle.stack.demo import DEFAULT_LHEO, Demo


def demo(
    ctx: typer.Context,
    events: int = typer.Option(2000, "--events", help="Nombre de jeunes positionnés par les Missions Locales."),
    seed: int = typer.Option(7, "--seed", help="Graine du générateur : même graine, même scénario."),
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Laisser tout en marche après le bilan (console, Prometheus, tail)."
    ),
    lheo: Path = typer.Option(DEFAULT_LHEO, "--lheo", help="Dossier de flux LHEO réels (à défaut : flux généré)."),
) -> None:
    """Démarre broker, registre et services, joue un scénario réaliste entre Missions Locales et Régions,
    puis affiche le bilan par flux et les indicateurs de la convention. S'arrête proprement."""
    state: CliState = ctx.obj
    configure(state.settings.log_format, "ERROR")
    runner = Demo(
        state.settings,
        people=events,
        seed=seed,
        lheo_dir=lheo,
        console=_console(),
        progress_console=console(stderr=True),
    )
    with contextlib.suppress(KeyboardInterrupt):
        raise typer.Exit(asyncio.run(runner.run(keep_running=keep_running)))


def _console() -> Console:
    """Wide enough for the summary tables when output goes to a file or a CI log."""
    out = console()
    return out if out.is_terminal else console(width=170)
