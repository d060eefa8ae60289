"""The open-data files of a small state, in CSV and Parquet, validated against their schema.json by frictionless."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from frictionless import Report, Resource, Schema, validate

from passerelle.core.opendata import COLUMNS, NATIONAL, THRESHOLD
from services.indicators.domain import IndicatorState
from services.indicators.opendata import SCHEMA_FILE, Format, archive, export, table_schema

D = dt.date
EXTRACTED = dt.datetime(2026, 11, 5, 8, 0, tzinfo=dt.UTC)
PARQUET_TYPES = {"string": "string", "integer": "int64", "number": "double", "datetime": "timestamp[ms, tz=UTC]"}


def _state() -> IndicatorState:
    """Region 24: 30 positionnements in October, 15 entries 20 days later, 12 answered 4 days later, 14 dropouts
    signalled and 12 contacted 5 days later; region 53: 4 positionnements; one September positionnement."""
    state = IndicatorState()
    for i in range(30):
        key = f"P24-{i}"
        state.apply(
            "formation.Positionnement",
            {"idPositionnement": key, "idSession": "24:S1", "datePositionnement": D(2026, 10, 1 + i % 28)},
        )
        if i < 15:
            state.apply(
                "formation.EntreeFormation",
                {"idPositionnement": key, "dateEntree": D(2026, 10, 1 + i % 28) + dt.timedelta(20)},
            )
        if i < 12:
            state.apply(
                "formation.StatutCandidature",
                {"idPositionnement": key, "statut": "ADMIS", "dateStatut": D(2026, 10, 1 + i % 28) + dt.timedelta(4)},
            )
    for i in range(14):
        state.apply(
            "reperage.SignalementDecrochage",
            {"idSignalement": f"S{i}", "region": "24", "dateSignalement": D(2026, 10, 2)},
        )
        if i < 12:
            state.apply(
                "reperage.SuiteSignalement",
                {"idSignalement": f"S{i}", "suite": "CONTACTE", "dateSuite": D(2026, 10, 7)},
            )
    for i in range(4):
        state.apply(
            "formation.Positionnement",
            {"idPositionnement": f"P53-{i}", "idSession": "53:S1", "datePositionnement": D(2026, 10, 3)},
        )
    state.apply(
        "formation.Positionnement",
        {"idPositionnement": "P-sept", "idSession": "24:S1", "datePositionnement": D(2026, 9, 30)},
    )
    return state


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("donnees-ouvertes")
    done = export(_state(), ["2026-10"], out, [Format.CSV, Format.PARQUET], EXTRACTED)
    assert [p.name for p in done.files] == [
        "indicateurs-convention-2026-10.csv",
        "indicateurs-convention-2026-10.parquet",
        SCHEMA_FILE,
    ]
    assert done.rows == 3
    return out


def _validate_csv(path: Path, schema: Path) -> Report:
    # Frictionless refuses absolute paths unless they are under the resource's base path.
    descriptor = json.loads(schema.read_text(encoding="utf-8"))
    return Resource(path=path.name, basepath=str(path.parent), schema=Schema.from_descriptor(descriptor)).validate()


def _csv_rows(folder: Path) -> dict[str, dict[str, str]]:
    with (folder / "indicateurs-convention-2026-10.csv").open(encoding="utf-8", newline="") as text:
        return {row["region"]: row for row in csv.DictReader(text)}


def test_the_schema_is_a_table_schema_in_the_catalogue_style(folder: Path) -> None:
    descriptor = json.loads((folder / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert validate(descriptor, type="schema").valid
    for key in ("name", "title", "description", "version", "contributors", "licenses", "fields", "missingValues"):
        assert descriptor[key], key
    assert descriptor["licenses"][0]["title"] == "Licence Ouverte / Open Licence version 2.0"
    names = [f["name"] for f in descriptor["fields"]]
    assert set(COLUMNS) <= set(names) and len(names) == len(set(names))
    for field in descriptor["fields"]:
        assert {"name", "title", "description", "type", "example", "constraints"} <= set(field), field["name"]
    assert str(THRESHOLD) in descriptor["description"]


def test_the_csv_file_is_valid_against_its_schema(folder: Path) -> None:
    report = _validate_csv(folder / "indicateurs-convention-2026-10.csv", folder / SCHEMA_FILE)
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_the_parquet_file_is_valid_against_its_schema(folder: Path) -> None:
    parquet = pq.read_table(folder / "indicateurs-convention-2026-10.parquet")
    descriptor = json.loads((folder / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert parquet.column_names == [f["name"] for f in descriptor["fields"]]
    for field in descriptor["fields"]:  # the file's own types are the schema's
        assert str(parquet.schema.field(field["name"]).type) == PARQUET_TYPES[field["type"]], field["name"]
    rows = [[row[name] for name in parquet.column_names] for row in parquet.to_pylist()]
    resource = Resource(data=[parquet.column_names, *rows], schema=Schema.from_descriptor(descriptor))
    report = resource.validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert json.loads(parquet.schema.metadata[b"table_schema"]) == table_schema()


def test_a_file_that_breaks_the_schema_is_refused(folder: Path, tmp_path: Path) -> None:
    """The validation is not vacuous: a masked count written as a marker, a rate above 1, are errors."""
    text = (folder / "indicateurs-convention-2026-10.csv").read_text(encoding="utf-8").splitlines()
    header, *rows = text
    broken = [header, *(r.replace(",2026-10,,", ",2026-10,s,", 1) for r in rows)]
    (tmp_path / "faux.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    report = _validate_csv(tmp_path / "faux.csv", folder / SCHEMA_FILE)
    assert not report.valid
    assert {"type-error", "constraint-error"} >= {kind for [kind] in report.flatten(["type"])} >= {"type-error"}


def test_the_figures_and_the_secret_cells(folder: Path) -> None:
    rows = _csv_rows(folder)
    assert list(rows) == ["24", "53", NATIONAL]
    region = rows["24"]
    assert region["libelle_region"] == "Centre-Val de Loire" and region["mois"] == "2026-10"
    assert region["extrait_le"] == "2026-11-05T08:00:00Z"
    # 30 positionnements, but France − 24 would give 53's 4: both masked with their rates.
    assert (region["nb_positionnements"], rows["53"]["nb_positionnements"], rows[NATIONAL]["nb_positionnements"]) == (
        "",
        "",
        "34",
    )
    assert region["nb_entrees"] == "15" and region["taux_entree"] == ""
    assert (
        region["delai_positionnement_entree_median"] == "20.0" and region["delai_positionnement_entree_p90"] == "20.0"
    )
    assert region["delai_positionnement_statut_median"] == "4.0"  # 12 answers: enough
    # 14 signalements, 12 contacted: the 2 not contacted would be 14 − 12, so the contacted count goes.
    assert region["nb_signalements"] == "14" and region["nb_signalements_contactes"] == ""
    assert region["delai_signalement_contact_median"] == "5.0"
    masked = set(region["secret_statistique"].split())
    assert {"nb_positionnements", "taux_entree", "nb_signalements_contactes", "taux_contact"} <= masked
    assert all(region[name] == "" for name in masked)
    assert rows["53"]["delai_positionnement_entree_median"] == ""  # no entry: not computable, not secret
    assert "delai_positionnement_entree_median" not in rows["53"]["secret_statistique"].split()


def test_no_published_count_is_below_the_threshold(folder: Path) -> None:
    counts = ("nb_positionnements", "nb_entrees", "nb_liste_attente", "nb_signalements", "nb_signalements_contactes")
    for row in _csv_rows(folder).values():
        for name in counts:
            assert row[name] == "" or int(row[name]) == 0 or int(row[name]) >= THRESHOLD, (row["region"], name)


def test_a_month_without_data_writes_a_header_only(tmp_path: Path) -> None:
    done = export(_state(), ["2027-01"], tmp_path, [Format.CSV], EXTRACTED)
    assert done.rows == 0
    assert (tmp_path / "indicateurs-convention-2027-01.csv").read_text(encoding="utf-8").count("\n") == 1


def test_a_wrong_month_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AAAA-MM"):
        export(_state(), ["2026-13"], tmp_path, [Format.CSV], EXTRACTED)


def test_the_downloaded_archive_holds_the_same_files_as_the_export(folder: Path) -> None:
    name, data = archive(_state(), "2026-10", Format.CSV, EXTRACTED)
    assert name == "indicateurs-convention-2026-10-csv.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert sorted(bundle.namelist()) == ["indicateurs-convention-2026-10.csv", SCHEMA_FILE]
        assert (
            bundle.read("indicateurs-convention-2026-10.csv")
            == (folder / "indicateurs-convention-2026-10.csv").read_bytes()
        )
        assert json.loads(bundle.read(SCHEMA_FILE)) == table_schema()
