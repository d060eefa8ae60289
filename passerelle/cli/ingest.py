"""``passerelle ingest lheo|csv FILE --partner ID``: a large file onto ``in.<partner>``, streamed, in pieces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from passerelle.broker import topics
from passerelle.broker.producer import start_producer
from passerelle.cli.broker import on_broker
from passerelle.cli.context import CliState
from passerelle.cli.exits import NotFound, WrongUsage, existing_file
from passerelle.cli.help import App
from passerelle.cli.render import console
from passerelle.core.headers import FIRST_LINE
from passerelle.core.pieces import split_csv

app = App(help="Publier un gros fichier (flux LHEO, export CSV) sur in.<partenaire>.", no_args_is_help=True)

Piece = tuple[bytes, list[tuple[str, bytes]]]
# The pieces of a file read from ``source``, reporting each byte read to ``advance``.
Splitter = Callable[[BinaryIO, Callable[[int], None]], Iterator[Piece]]


def _topic(state: CliState, partner: str, event: str) -> str:
    profile = state.profiles.get(partner)
    if profile is None:
        raise NotFound(f"partenaire inconnu : {partner} (voir « passerelle partners list »)")
    if event not in profile.publishes:
        raise WrongUsage(f"{partner} ne publie pas {event} selon son profil")
    return topics.inbound(partner)


def _progress(path: Path) -> Progress:
    # On stderr: stdout keeps the result line alone, for whoever reads it.
    return Progress(
        TextColumn(f"[bold]{escape(path.name)}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=False,
    )


def _ingest(state: CliState, file: Path, topic: str, split: Splitter) -> int:
    """Publish every piece of ``file``, acknowledged by the broker; the number of pieces."""
    access = state.access()
    size = file.stat().st_size

    async def publish() -> int:
        producer = await start_producer(state.settings, max_request_size=8 * 1024 * 1024, linger_ms=10)
        try:
            with _progress(file) as progress, file.open("rb") as source:
                task = progress.add_task(topic, total=size)
                pieces = split(source, lambda n: progress.advance(task, n))
                futures = [await producer.send(topic, value, headers=headers) for value, headers in pieces]
                await asyncio.gather(*futures)
                return len(futures)
        finally:
            await producer.stop()

    return on_broker(access, publish)


@app.command("lheo")
def ingest_lheo(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FICHIER", help="Flux LHEO 2.2 ou 2.3 (XML)."),
    partner: str = typer.Option(..., "--partner", help="Région émettrice (ex. region-24)."),
    max_bytes: int = typer.Option(512_000, "--max-bytes", help="Taille maximale d'un morceau publié."),
) -> None:
    """Découpe un flux LHEO entre formations (sans le charger en mémoire) et publie chaque morceau."""
    from passerelle.core.lheo_stream import split_lheo

    state: CliState = ctx.obj
    source = existing_file(file)
    event = "formation.OffreSession"
    topic = _topic(state, partner, event)
    headers = [("ce_type", event.encode()), ("content-type", b"application/xml")]

    def pieces(stream: BinaryIO, advance: Callable[[int], None]) -> Iterator[Piece]:
        for piece in split_lheo(stream, max_bytes, progress=advance):
            yield piece, list(headers)

    count = _ingest(state, source, topic, pieces)
    typer.echo(f"{count} morceau(x) publié(s) sur {topic}.")


@app.command("csv")
def ingest_csv(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FICHIER", help="Export CSV (une ligne d'en-tête)."),
    partner: str = typer.Option(..., "--partner", help="Région émettrice (ex. region-53)."),
    event: str = typer.Option(..., "--event", help="Événement porté par le fichier (ex. formation.StatutCandidature)."),
    max_bytes: int = typer.Option(512_000, "--max-bytes", help="Taille maximale d'un morceau publié."),
) -> None:
    """Découpe un export CSV entre lignes (l'en-tête répété) et publie chaque morceau ; les numéros de ligne
    des erreurs restent ceux du fichier d'origine."""
    state: CliState = ctx.obj
    source = existing_file(file)
    topic = _topic(state, partner, event)
    headers = [("ce_type", event.encode()), ("content-type", b"text/csv")]

    def pieces(stream: BinaryIO, advance: Callable[[int], None]) -> Iterator[Piece]:
        for first_line, piece in split_csv(stream, max_bytes, progress=advance):
            yield piece, [*headers, (FIRST_LINE, str(first_line).encode())]

    count = _ingest(state, source, topic, pieces)
    typer.echo(f"{count} morceau(x) publié(s) sur {topic}.")
