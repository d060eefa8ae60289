"""``passerelle tail TOPIC``: follow a topic, one JSON object per line, Avro decoded (like ``kcat -s avro``)."""

from __future__ import annotations

import typer

from passerelle.broker.reader import read_topic
from passerelle.cli.broker import on_broker
from passerelle.cli.context import CliState
from passerelle.cli.render import as_json_line, record_as_dict
from passerelle.core.contracts.codec import AvroCodec


def tail(
    ctx: typer.Context,
    topic: str = typer.Argument(..., help="Topic à lire (ex. out.region-24, canon.formation.Positionnement)."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Lire depuis le début du topic."),
    max_records: int = typer.Option(0, "--max", help="S'arrêter après N messages (0 : sans limite)."),
    timeout: float = typer.Option(0.0, "--timeout", help="S'arrêter après S secondes sans message (0 : jamais)."),
) -> None:
    """Affiche les messages d'un topic, un objet JSON par ligne (en-têtes, clé, valeur décodée)."""
    state: CliState = ctx.obj
    access = state.access()
    codec = AvroCodec(state.catalogue)

    async def run() -> None:
        async for record in read_topic(
            access,
            topic,
            from_beginning=from_beginning,
            until_end=False,
            max_records=max_records or None,
            timeout_s=timeout or None,
        ):
            typer.echo(as_json_line(record_as_dict(record, codec)))

    on_broker(access, run)
