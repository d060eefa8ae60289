"""Valid native messages to start from, one family per dialect, built from the contracts' own examples
(``contracts/examples/<event>/valid/``) through the generators of ``passerelle/simulation/native.py``, and for
LHEO from the repository's feeds and the feed generator of ``passerelle/simulation/lheo_feed.py``."""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

import orjson

from passerelle.core import events
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.events import Dialect
from passerelle.core.shapes import write_nested
from passerelle.settings import PROJECT_ROOT
from passerelle.simulation import lheo_feed
from passerelle.simulation import native as simulated
from tests.conftest import OWN_LHEO
from tests.dialect_context import CATALOGUE, SHAPES

EXAMPLES = PROJECT_ROOT / "contracts" / "examples"
TYPED = TypedContracts(CATALOGUE)
DROPOUT = "reperage.SignalementDecrochage"
CSV_REGION = "53"  # the CSV family is sent on in.region-53 (latin-1, « ; »)


def _examples(subject: str) -> list[dict[str, Any]]:
    """The valid examples of a contract, as the typed layer reads them (dates as dates)."""
    paths = sorted((EXAMPLES / subject / "valid").glob("*.json"))
    return [TYPED.validate(subject, orjson.loads(path.read_bytes())) for path in paths]


def _native_person(subject: str, record: dict[str, Any]) -> dict[str, Any]:
    """A Region names a dropout by its own id, never by the pseudonym Passerelle makes of it."""
    if subject != DROPOUT:
        return record
    person = {k: v for k, v in (record.get("jeune") or {}).items() if k != "pseudonyme"}
    return {**record, "jeune": {**person, "id_jeune": "R53-0001"}}


@functools.cache
def imilo() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(event, the native I-MILO object): the canonical example, its pseudonym's source as ``idDossier``."""
    seeds = []
    for subject in events.sent_in(Dialect.IMILO_JSON):
        for record in _examples(subject):
            fields = {**record, "idDossier": "D-2026-0042"}
            seeds.append((subject, orjson.loads(simulated.imilo_message(subject, fields))))
    return tuple(seeds)


@functools.cache
def region_json() -> tuple[tuple[str, dict[str, Any]], ...]:
    seeds = []
    for subject in events.sent_in(Dialect.REGION_JSON):
        for record in _examples(subject):
            native = write_nested(_native_person(subject, record), SHAPES[subject].root)
            if subject == DROPOUT:
                native["jeune"]["id_jeune"] = "R53-0001"
            seeds.append((subject, {"evenement": subject, **native}))
    return tuple(seeds)


@functools.cache
def region_csv() -> tuple[tuple[str, tuple[dict[str, Any], ...]], ...]:
    """(event, canonical rows): every valid example of the event, one row each, as region-53 sends it."""
    return tuple(
        (subject, tuple(_as_region(subject, _native_person(subject, r), CSV_REGION) for r in _examples(subject)))
        for subject in events.sent_in(Dialect.REGION_CSV)
    )


def _as_region(subject: str, record: dict[str, Any], region: str) -> dict[str, Any]:
    """The examples are region 24's: a Region only publishes in its own name (rule origine_usurpee)."""
    field = events.origin_field(subject)
    return {**record, field: region} if field and field in record else record


@functools.cache
def lheo() -> tuple[bytes, ...]:
    """The repository's own feeds, and generated ones (one and three formations, LHEO 2.2 and 2.3)."""
    feeds = [path.read_bytes() for path in sorted(Path(OWN_LHEO).glob("*.xml"))]
    for seed, (size, namespace) in enumerate([(1, lheo_feed.NS_23), (6000, lheo_feed.NS_22)]):
        out = io.BytesIO()
        lheo_feed.write_feed(out, size, seed, namespace=namespace)
        feeds.append(out.getvalue())
    return tuple(feeds)
