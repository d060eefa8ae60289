"""``passerelle indicateurs export`` end to end: canonical events on the embedded broker in, valid files out."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aiokafka import AIOKafkaProducer
from frictionless import Resource, Schema

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.embedded import LOOPBACK, EmbeddedBroker, free_port
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.opendata import NATIONAL
from passerelle.settings import PROJECT_ROOT
from services.indicators.domain import FOLLOWED
from services.indicators.opendata import export_from_broker
from tests.cli.commands import passerelle
from tests.flows import cli, cli_json

pytestmark = pytest.mark.broker

EXAMPLES = PROJECT_ROOT / "contracts" / "examples"
OCTOBER = dt.date(2026, 10, 5)


@dataclass(frozen=True)
class OwnBroker:
    """What ``tests.flows.cli`` needs of a stack: the broker's access."""

    access: KafkaAccess


@pytest.fixture(scope="module")
def own_broker() -> Iterator[KafkaAccess]:
    # A broker of its own: the figures must count only this test's events.
    with EmbeddedBroker() as broker:
        yield broker.access


def _record(typed: TypedContracts, subject: str, **changes: Any) -> dict[str, Any]:
    example = (EXAMPLES / subject / "valid" / "minimal.json").read_bytes()
    return {**typed.validate_json(subject, example), **changes}


def _history(typed: TypedContracts) -> list[tuple[str, dict[str, Any]]]:
    """Region 24: 25 positionnements in October, 12 entries 30 days later; region 53: 3 positionnements;
    one November positionnement, outside the period."""

    def event(subject: str, **changes: Any) -> tuple[str, dict[str, Any]]:
        return subject, _record(typed, subject, **changes)

    pos, entry = "formation.Positionnement", "formation.EntreeFormation"
    out = [event(pos, idPositionnement=f"POS-24-{i}", idSession="24:S1", datePositionnement=OCTOBER) for i in range(25)]
    out += [
        event(entry, idPositionnement=f"POS-24-{i}", idSession="24:S1", dateEntree=OCTOBER + dt.timedelta(30))
        for i in range(12)
    ]
    out += [event(pos, idPositionnement=f"POS-53-{i}", idSession="53:S1", datePositionnement=OCTOBER) for i in range(3)]
    out.append(event(pos, idPositionnement="POS-nov", idSession="24:S1", datePositionnement=dt.date(2026, 11, 2)))
    return out


@pytest.fixture(scope="module")
async def published(own_broker: KafkaAccess, typed: TypedContracts, codec: AvroCodec) -> OwnBroker:
    await ensure_topics(own_broker, [topics.TopicSpec.of(topics.canonical(s)) for s in FOLLOWED])
    producer = AIOKafkaProducer(**own_broker.aiokafka(), enable_idempotence=False)
    await producer.start()
    try:
        for subject, record in _history(typed):
            await producer.send_and_wait(topics.canonical(subject), codec.encode(subject, record), key=b"k")
        # A record no contract reads is counted nowhere, as by the indicators service.
        await producer.send_and_wait(topics.canonical("formation.Positionnement"), b"\x00\x00\x00\x00\x01illisible")
    finally:
        await producer.stop()
    return OwnBroker(own_broker)


@pytest.fixture
async def exported(published: OwnBroker, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    folder = tmp_path / "sortie"
    code, document = await cli_json(
        published, "indicateurs", "export", "--periode", "2026-10", "--format", "csv", "--format", "parquet",
        "--sortie", str(folder),
    )  # fmt: skip
    assert code == 0, document
    return document, folder


async def test_the_export_reads_the_broker_and_writes_valid_files(exported: tuple[dict[str, Any], Path]) -> None:
    document, folder = exported
    assert (document["period"], document["rows"], document["threshold"]) == ("2026-10", 3, 11)
    assert document["masked_cells"] > 0
    names = sorted(Path(p).name for p in document["files"])
    assert names == ["indicateurs-convention-2026-10.csv", "indicateurs-convention-2026-10.parquet", "schema.json"]
    schema = Schema.from_descriptor(json.loads((folder / "schema.json").read_text(encoding="utf-8")))
    report = Resource(path="indicateurs-convention-2026-10.csv", basepath=str(folder), schema=schema).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    with (folder / "indicateurs-convention-2026-10.csv").open(encoding="utf-8", newline="") as text:
        rows = {row["region"]: row for row in csv.DictReader(text)}
    assert list(rows) == ["24", "53", NATIONAL]
    # 3 positionnements in 53: masked, and 24's with them, else France − 24 would give 53's.
    assert (rows["24"]["nb_positionnements"], rows["53"]["nb_positionnements"]) == ("", "")
    assert rows[NATIONAL]["nb_positionnements"] == "28"  # the November one and the unreadable record left out
    assert rows["24"]["nb_entrees"] == "12" and rows["24"]["delai_positionnement_entree_median"] == "30.0"
    parquet = pq.read_table(folder / "indicateurs-convention-2026-10.parquet").to_pylist()
    assert [(r["region"], r["nb_positionnements"], r["nb_entrees"]) for r in parquet] == [
        ("24", None, 12),
        ("53", None, 0),
        (NATIONAL, 28, 12),
    ]


async def test_the_summary_names_the_files(published: OwnBroker, tmp_path: Path) -> None:
    code, output = await cli(published, "indicateurs", "export", "--periode", "2026-10", "--sortie", str(tmp_path))
    assert code == 0, output
    assert "3 ligne(s) pour 2026-10" in output and "cellule(s) masquée(s)" in output
    assert str(tmp_path / "indicateurs-convention-2026-10.csv") in " ".join(output.split())
    assert not (tmp_path / "indicateurs-convention-2026-10.parquet").exists()  # csv unless asked


async def test_the_demo_export_writes_every_month_with_data(
    published: OwnBroker, codec: AvroCodec, tmp_path: Path
) -> None:
    """What ``make demo`` calls: every month found on the topics, in both formats, one schema."""
    done = await export_from_broker(published.access, codec, tmp_path / "demo")
    assert done.months == ("2026-10", "2026-11")
    assert sorted(p.name for p in done.files) == [
        "indicateurs-convention-2026-10.csv",
        "indicateurs-convention-2026-10.parquet",
        "indicateurs-convention-2026-11.csv",
        "indicateurs-convention-2026-11.parquet",
        "schema.json",
    ]
    november = pq.read_table(tmp_path / "demo" / "indicateurs-convention-2026-11.parquet").to_pylist()
    # One positionnement: masked in its region, and France, being that region alone, with it.
    assert [(r["region"], r["nb_positionnements"]) for r in november] == [("24", None), (NATIONAL, None)]


def test_a_wrong_period_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    done = passerelle(capsys, "indicateurs", "export", "--periode", "octobre", "--sortie", str(tmp_path))
    assert done.code == 2
    assert "période invalide : octobre (attendu AAAA-MM" in done.err
    assert not list(tmp_path.iterdir())


def test_an_output_that_is_a_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    taken = tmp_path / "fichier"
    taken.write_text("déjà là", encoding="utf-8")
    done = passerelle(capsys, "indicateurs", "export", "--periode", "2026-10", "--sortie", str(taken))
    assert done.code == 2 and "--sortie doit être un dossier" in done.err
    assert taken.read_text(encoding="utf-8") == "déjà là"


def test_a_closed_port_exits_69_in_one_line(tmp_path: Path) -> None:
    bootstrap = f"{LOOPBACK}:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_KAFKA_")}
    done = subprocess.run(
        [sys.executable, "-m", "passerelle.cli", "indicateurs", "export", "--periode", "2026-10", "--json",
         "--sortie", str(tmp_path / "sortie")],
        env={**env, "PASSERELLE_KAFKA_BOOTSTRAP": bootstrap, "COLUMNS": "80"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 69, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "broker Kafka injoignable" in done.stderr
    assert not (tmp_path / "sortie").exists()
