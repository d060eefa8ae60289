"""The agreement's indicators as open data: CSV or Parquet files per month, and their Table Schema.

The figures come from the canonical topics through the same ``IndicatorState`` as the indicators service,
not from ``pilotage.Indicateurs``: that contract carries medians without the number of observations behind
them, which the secrecy rule needs, and no national figure can be pooled from regional medians
(docs/open-data.md). The secrecy rule itself is ``passerelle.core.opendata``.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import collect
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.errors import ContractError
from passerelle.core.contracts.formats import REGIONS
from passerelle.core.opendata import (
    COLUMNS,
    DELAYS,
    NATIONAL,
    RATES,
    THRESHOLD,
    PublishedRow,
    publish,
)
from services.indicators.domain import FOLLOWED, IndicatorState

SCHEMA_FILE = "schema.json"
SCHEMA_VERSION = "1.0.0"
MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
NATIONAL_LABEL = "France (régions raccordées à Passerelle)"
LICENCE = {
    "title": "Licence Ouverte / Open Licence version 2.0",
    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
}
# Rounded for readers; rounding cannot uncover a masked count, rates are shown only when both counts are.
_RATE_DIGITS = 4
_DELAY_DIGITS = 1


class Format(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    description: str
    type: str
    example: str
    constraints: dict[str, Any]

    def descriptor(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "type": self.type,
            "example": self.example,
            "constraints": self.constraints,
        }


_SECRET = f"masqué au titre du secret statistique (voir secret_statistique) s'il porte sur moins de {THRESHOLD} jeunes"
_COHORT = "positionnés dans le mois"
_COUNT = {"required": False, "minimum": 0}
_RATE = {"required": False, "minimum": 0, "maximum": 1}
_DELAY = {"required": False, "minimum": 0}
_CODES = sorted(REGIONS)

SCHEMA_COLUMNS: tuple[Column, ...] = (
    Column(
        "region",
        "Code de la région",
        f"Code INSEE de la région (2 chiffres), ou {NATIONAL} pour la ligne « France », somme des régions du fichier.",
        "string",
        "24",
        {"required": True, "enum": [*_CODES, NATIONAL]},
    ),
    Column(
        "libelle_region",
        "Nom de la région",
        "Nom officiel de la région (code officiel géographique de l'INSEE).",
        "string",
        "Centre-Val de Loire",
        {"required": True},
    ),
    Column(
        "mois",
        "Mois",
        "Mois du positionnement (indicateurs de formation) ou du signalement (indicateurs de décrochage), AAAA-MM.",
        "string",
        "2026-10",
        {"required": True, "pattern": MONTH.pattern},
    ),
    Column(
        "nb_positionnements",
        "Nombre de positionnements",
        f"Positionnements de jeunes sur une session de formation financée par la région, émis par les Missions "
        f"Locales dans le mois ; {_SECRET}.",
        "integer",
        "152",
        _COUNT,
    ),
    Column(
        "nb_entrees",
        "Nombre d'entrées en formation",
        f"Parmi les jeunes {_COHORT}, ceux entrés en formation (à la date de l'export) ; {_SECRET}.",
        "integer",
        "87",
        _COUNT,
    ),
    Column(
        "nb_liste_attente",
        "Nombre de positionnements passés par une liste d'attente",
        f"Parmi les jeunes {_COHORT}, ceux placés au moins une fois sur liste d'attente ; {_SECRET}.",
        "integer",
        "23",
        _COUNT,
    ),
    Column(
        "nb_signalements",
        "Nombre de signalements de décrochage",
        f"Jeunes en décrochage signalés par la région à une Mission Locale dans le mois ; {_SECRET}.",
        "integer",
        "64",
        _COUNT,
    ),
    Column(
        "nb_signalements_contactes",
        "Nombre de signalements suivis d'un contact",
        f"Parmi les signalements du mois, ceux dont le jeune a été joint par la Mission Locale ; {_SECRET}.",
        "integer",
        "41",
        _COUNT,
    ),
    Column(
        "taux_entree",
        "Taux d'entrée en formation",
        "nb_entrees / nb_positionnements, entre 0 et 1 ; vide si l'un des deux est masqué ou sans positionnement.",
        "number",
        "0.5724",
        _RATE,
    ),
    Column(
        "part_liste_attente",
        "Part des positionnements passés par une liste d'attente",
        "nb_liste_attente / nb_positionnements, entre 0 et 1 ; vide si l'un des deux est masqué ou sans "
        "positionnement.",
        "number",
        "0.1513",
        _RATE,
    ),
    Column(
        "taux_contact",
        "Taux de contact des jeunes signalés",
        "nb_signalements_contactes / nb_signalements, entre 0 et 1 ; vide si l'un des deux est masqué ou sans "
        "signalement.",
        "number",
        "0.6406",
        _RATE,
    ),
    Column(
        "delai_positionnement_statut_median",
        "Délai médian positionnement → première réponse (jours)",
        f"Médiane, en jours, du délai entre le positionnement et la première réponse de l'organisme ; vide sans "
        f"réponse, masquée si calculée sur moins de {THRESHOLD} jeunes.",
        "number",
        "6.5",
        _DELAY,
    ),
    Column(
        "delai_positionnement_entree_median",
        "Délai médian positionnement → entrée en formation (jours)",
        f"Médiane, en jours, du délai entre le positionnement et l'entrée en formation ; vide sans entrée, masquée "
        f"si calculée sur moins de {THRESHOLD} jeunes.",
        "number",
        "35.0",
        _DELAY,
    ),
    Column(
        "delai_positionnement_entree_p90",
        "9e décile du délai positionnement → entrée en formation (jours)",
        f"Délai, en jours, sous lequel 90 % des jeunes entrés sont entrés en formation ; vide sans entrée, masqué "
        f"si calculé sur moins de {THRESHOLD} jeunes.",
        "number",
        "61.0",
        _DELAY,
    ),
    Column(
        "delai_signalement_contact_median",
        "Délai médian signalement → premier contact (jours)",
        f"Médiane, en jours, du délai entre le signalement et le premier contact du jeune ; vide sans contact, "
        f"masquée si calculée sur moins de {THRESHOLD} jeunes.",
        "number",
        "7.0",
        _DELAY,
    ),
    Column(
        "secret_statistique",
        "Colonnes masquées au titre du secret statistique",
        "Noms des colonnes de la ligne masquées au titre du secret statistique, séparés par une espace ; vide si "
        "aucune. Une valeur vide dont la colonne n'est pas citée ici n'est pas calculable (aucune observation).",
        "string",
        "nb_liste_attente part_liste_attente",
        {"required": False, "pattern": f"^(({'|'.join(COLUMNS)})( ({'|'.join(COLUMNS)}))*)?$"},
    ),
    Column(
        "extrait_le",
        "Date de l'extraction",
        "Instant (UTC) où les événements ont été relus : les chiffres d'un mois récent peuvent encore évoluer.",
        "datetime",
        "2026-11-05T08:00:00Z",
        {"required": True},
    ),
)
FIELD_NAMES = tuple(c.name for c in SCHEMA_COLUMNS)


def table_schema() -> dict[str, Any]:
    """The Table Schema of the files, in the style of the schema.data.gouv.fr catalogue."""
    return {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "name": "indicateurs-convention-missions-locales-regions",
        "title": "Indicateurs de la convention cadre Missions Locales – Régions",
        "description": (
            "Indicateurs mensuels, par région, de la convention cadre entre l'Union nationale des Missions Locales "
            "et Régions de France : délais entre positionnement et entrée en formation, taux d'entrée, listes "
            "d'attente, contact des jeunes en décrochage. Calculés par Passerelle à partir des événements échangés "
            "entre les Missions Locales et les Régions. Aucune donnée personnelle : tout effectif de moins de "
            f"{THRESHOLD} jeunes est masqué, ainsi que les cellules qui permettraient de le retrouver par "
            "différence, les taux qui s'en déduisent et les délais calculés sur moins de "
            f"{THRESHOLD} jeunes (secret statistique, voir docs/open-data.md)."
        ),
        "countryCode": "FR",
        "version": SCHEMA_VERSION,
        "created": "2026-12-06",
        "lastModified": "2026-12-06",
        "contributors": [{"title": "Projet Passerelle", "role": "author"}],
        "licenses": [LICENCE],
        "keywords": ["missions locales", "régions", "formation professionnelle", "décrochage", "jeunes"],
        "fields": [c.descriptor() for c in SCHEMA_COLUMNS],
        "primaryKey": ["region", "mois"],
        "missingValues": [""],
    }


def table(rows: Sequence[PublishedRow], month: str, extracted_at: dt.datetime) -> list[dict[str, Any]]:
    """The file's rows as plain values, in the schema's column order (``None`` for an empty cell)."""
    out: list[dict[str, Any]] = []
    for row in rows:
        record: dict[str, Any] = {
            "region": row.region,
            "libelle_region": NATIONAL_LABEL if row.region == NATIONAL else REGIONS.get(row.region, row.region),
            "mois": month,
        }
        for name in COLUMNS:
            record[name] = _rounded(name, row.values[name])
        record["secret_statistique"] = " ".join(row.masked)
        record["extrait_le"] = extracted_at.astimezone(dt.UTC)
        out.append(record)
    return out


def _rounded(name: str, value: float | int | None) -> float | int | None:
    if value is None:
        return None
    if name in {rate for rate, _, _ in RATES}:
        return round(float(value), _RATE_DIGITS)
    if name in DELAYS:
        return round(float(value), _DELAY_DIGITS)
    return int(value)


def rows_for(state: IndicatorState, month: str, threshold: int = THRESHOLD) -> list[PublishedRow]:
    """One month's published rows: each region with data, then the national row (when a region has data)."""
    regions, national = state.month_figures(month)
    return publish(regions, national if regions else None, threshold)


def write_month(
    rows: Sequence[PublishedRow], month: str, folder: Path, formats: Iterable[Format], extracted_at: dt.datetime
) -> list[Path]:
    """Write the month's files and the schema beside them; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    records = table(rows, month, extracted_at)
    written: list[Path] = []
    for chosen in dict.fromkeys(formats):
        path = folder / f"indicateurs-convention-{month}.{chosen.value}"
        (_write_csv if chosen is Format.CSV else _write_parquet)(records, path)
        written.append(path)
    schema = folder / SCHEMA_FILE
    schema.write_text(json.dumps(table_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [*written, schema]


def _write_csv(records: Sequence[dict[str, Any]], path: Path) -> None:
    # UTF-8, comma, point as decimal separator: what schema.data.gouv.fr and its validator expect.
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELD_NAMES)
        for record in records:
            writer.writerow([_csv_cell(record[name]) for name in FIELD_NAMES])


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _write_parquet(records: Sequence[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa  # imported here: the CLI's other commands start without it
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "datetime": pa.timestamp("s", "UTC")}
    schema = pa.schema(
        [pa.field(c.name, types[c.type], nullable=not c.constraints.get("required", False)) for c in SCHEMA_COLUMNS],
        metadata={"table_schema": json.dumps(table_schema(), ensure_ascii=False)},
    )
    columns = {name: [r[name] for r in records] for name in FIELD_NAMES}
    pq.write_table(pa.table(columns, schema=schema), path)


async def state_from_broker(access: KafkaAccess, codec: AvroCodec) -> IndicatorState:
    """The indicators' state rebuilt from the canonical topics, as the indicators service does at its start."""
    state = IndicatorState()
    for subject in FOLLOWED:
        for record in await collect(access, topics.canonical(subject)):
            try:
                decoded = codec.decode(record.value or b"")
            except ContractError:  # a record no contract reads is counted nowhere, as by the indicators service
                continue
            state.apply(decoded.subject, decoded.record)
    return state


@dataclass(frozen=True)
class Export:
    months: tuple[str, ...]
    files: tuple[Path, ...]
    rows: int
    masked: int


def export(
    state: IndicatorState,
    months: Sequence[str],
    folder: Path,
    formats: Iterable[Format],
    extracted_at: dt.datetime,
    threshold: int = THRESHOLD,
) -> Export:
    """Write each month's files into ``folder``; what was written."""
    for month in months:
        if not MONTH.match(month):
            raise ValueError(f"mois invalide : {month} (attendu AAAA-MM)")
    chosen = list(formats)
    files: dict[Path, None] = {}
    rows = masked = 0
    for month in months:
        published = rows_for(state, month, threshold)
        files.update(dict.fromkeys(write_month(published, month, folder, chosen, extracted_at)))
        rows += len(published)
        masked += sum(len(r.masked) for r in published)
    return Export(tuple(months), tuple(files), rows, masked)


async def export_from_broker(
    access: KafkaAccess,
    codec: AvroCodec,
    folder: Path,
    months: Sequence[str] | None = None,
    formats: Iterable[Format] = (Format.CSV, Format.PARQUET),
    extracted_at: dt.datetime | None = None,
) -> Export:
    """Read the canonical topics and write the open-data files of ``months`` (default: every month with data)."""
    state = await state_from_broker(access, codec)
    when = extracted_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    return export(state, state.months() if months is None else months, folder, formats, when)


async def archive_from_broker(access: KafkaAccess, codec: AvroCodec, month: str, chosen: Format) -> tuple[str, bytes]:
    """One month's open-data files and their schema as a zip, for a download (the console): its name and bytes."""
    state = await state_from_broker(access, codec)
    return archive(state, month, chosen, dt.datetime.now(dt.UTC).replace(microsecond=0))


def archive(state: IndicatorState, month: str, chosen: Format, extracted_at: dt.datetime) -> tuple[str, bytes]:
    """The files ``export`` writes for one month, zipped: what a person downloads and publishes as they are."""
    with tempfile.TemporaryDirectory(prefix="passerelle-donnees-ouvertes-") as folder:
        done = export(state, [month], Path(folder), [chosen], extracted_at)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in done.files:
                bundle.write(path, path.name)
    return f"indicateurs-convention-{month}-{chosen.value}.zip", buffer.getvalue()
