"""Native messages as partners write them, built from canonical-named values: for the demo, tests and bench.

Kept out of the dialect modules, which only read and write what partners send.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from passerelle.core.shapes import Shape, columns
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects.common import REGION_PERSON_ID
from services.region_adapter.dialects.region_csv import cell


def imilo_message(subject: str, fields: Mapping[str, Any]) -> bytes:
    """What I-MILO sends, from canonical-named values plus ``idDossier``."""
    item: dict[str, Any] = {"typeEvenement": subject}
    for native, canonical, kind in imilo_json.FIELDS[subject]:
        value = imilo_json.get_path(fields, canonical)
        if value is None:
            continue
        if kind == "euros":
            value = value / 100
        elif isinstance(value, dt.date):
            value = value.isoformat()
        imilo_json.put_path(item, native, value)
    if "idDossier" in fields:
        imilo_json.put_path(item, "dossier.idDossier", fields["idDossier"])
    return orjson.dumps(item)


def region_json_message(subject: str, native: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    """What a Region sends: its own snake_case object(s), tagged with the event."""
    items = native if isinstance(native, list) else [native]
    tagged = [{"evenement": subject, **item} for item in items]
    return orjson.dumps(tagged if isinstance(native, list) else tagged[0])


def region_csv_file(
    subject: str, rows: Sequence[dict[str, Any]], shape: Shape, encoding: str = "utf-8", separator: str = ";"
) -> bytes:
    """What a Region exports: a header line and one row per record (canonical-named values)."""
    cols = list(columns(shape.root))
    if subject == "reperage.SignalementDecrochage":
        cols.append((f"jeune_{REGION_PERSON_ID}", ("jeune", REGION_PERSON_ID), shape.root))
    used = [c for c in cols if any(cell(r, c[1]) for r in rows)]
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
    writer.writerow([name for name, _, _ in used])
    for row in rows:
        writer.writerow([cell(row, path) for _, path, _ in used])
    return out.getvalue().encode(encoding)
