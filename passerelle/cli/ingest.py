"""``passerelle ingest lheo|csv FILE --partner ID``: a large file onto ``in.<partner>``, streamed, in pieces."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.producer import start_producer
from passerelle.cli.context import CliState
from passerelle.core.headers import FIRST_LINE
from passerelle.core.pieces import split_csv
from passerelle.settings import Settings

app = typer.Typer(help="Publier un gros fichier (flux LHEO, export CSV) sur in.<partenaire>.", no_args_is_help=True)

Piece = tuple[bytes, list[tuple[str, bytes]]]


def _publish(settings: Settings, topic: str, pieces: Iterator[Piece]) -> int:
    async def run() -> int:
        producer = await start_producer(settings, max_request_size=8 * 1024 * 1024, linger_ms=10)
        try:
            futures = [await producer.send(topic, value, headers=headers) for value, headers in pieces]
            await asyncio.gather(*futures)
            return len(futures)
        finally:
            await producer.stop()

    return asyncio.run(run())


def _check(state: CliState, partner: str, event: str) -> tuple[KafkaAccess, str]:
    access = state.access()
    profile = state.profiles.get(partner)
    if profile is None:
        raise typer.BadParameter(f"partenaire inconnu : {partner} (voir « passerelle partners list »)")
    if event not in profile.publishes:
        raise typer.BadParameter(f"{partner} ne publie pas {event} selon son profil")
    return access, topics.inbound(partner)


def _progress(path: Path) -> Progress:
    return Progress(
        TextColumn(f"[bold]{path.name}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), transient=False
    )


@app.command("lheo")
def ingest_lheo(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Flux LHEO 2.2 ou 2.3 (XML)."),
    partner: str = typer.Option(..., "--partner", help="Région émettrice (ex. region-24)."),
    max_bytes: int = typer.Option(512_000, "--max-bytes", help="Taille maximale d'un morceau publié."),
) -> None:
    """Découpe un flux LHEO entre formations (sans le charger en mémoire) et publie chaque morceau."""
    from services.region_adapter.dialects.lheo import split_lheo

    state: CliState = ctx.obj
    event = "formation.OffreSession"
    _access, topic = _check(state, partner, event)
    headers = [("ce_type", event.encode()), ("content-type", b"application/xml")]
    with _progress(file) as progress, file.open("rb") as source:
        task = progress.add_task("lheo", total=file.stat().st_size)

        def pieces(stream: BinaryIO) -> Iterator[Piece]:
            for piece in split_lheo(stream, max_bytes, progress=lambda n: progress.advance(task, n)):
                yield piece, list(headers)

        count = _publish(state.settings, topic, pieces(source))
    typer.echo(f"{count} morceau(x) publié(s) sur {topic}.")


@app.command("csv")
def ingest_csv(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Export CSV (une ligne d'en-tête)."),
    partner: str = typer.Option(..., "--partner", help="Région émettrice (ex. region-53)."),
    event: str = typer.Option(..., "--event", help="Événement porté par le fichier (ex. formation.StatutCandidature)."),
    max_bytes: int = typer.Option(512_000, "--max-bytes", help="Taille maximale d'un morceau publié."),
) -> None:
    """Découpe un export CSV entre lignes (l'en-tête répété) et publie chaque morceau ; les numéros de ligne
    des erreurs restent ceux du fichier d'origine."""
    state: CliState = ctx.obj
    _access, topic = _check(state, partner, event)
    with _progress(file) as progress, file.open("rb") as source:
        task = progress.add_task("csv", total=file.stat().st_size)

        def pieces(stream: BinaryIO) -> Iterator[Piece]:
            for first_line, piece in split_csv(stream, max_bytes, progress=lambda n: progress.advance(task, n)):
                headers = [("ce_type", event.encode()), ("content-type", b"text/csv")]
                yield piece, [*headers, (FIRST_LINE, str(first_line).encode())]

        count = _publish(state.settings, topic, pieces(source))
    typer.echo(f"{count} morceau(x) publié(s) sur {topic}.")
