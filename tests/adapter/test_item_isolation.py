"""Values that used to raise inside a dialect (ValueError, OverflowError, csv.Error) and cost the sender every
other item of the message with one « erreur interne »: each is now a rule error for its own item only."""

from __future__ import annotations

import orjson
import pytest

from passerelle.core.dialect import Draft, Rejected
from passerelle.core.headers import FIRST_LINE
from passerelle.simulation import native as simulated
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects import region_csv, region_json
from services.region_adapter.dialects.lheo import parse_lheo
from tests.adapter.samples import status_item
from tests.dialect_context import SHAPES, context
from tests.translator import incoming, translator

STATUS = "formation.StatutCandidature"
PSEUDONYM = "b" * 64


def _lheo(hours: str = "697", places: str = "12") -> bytes:
    """Two formations: the first carries the values under test, the second is clean."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<lheo xmlns="http://lheo.gouv.fr/2.3"><offres>
<formation numero="F1"><intitule-formation>Essai</intitule-formation>
<action numero="A1"><nombre-heures-total>{hours}</nombre-heures-total>
<session numero="S1"><periode><debut>20260901</debut><fin>20261231</fin></periode></session>
<organisme-financeur><code-financeur>2</code-financeur><nb-places-financees>{places}</nb-places-financees>
</organisme-financeur></action>
<action numero="A2"><session numero="S2"><periode><debut>20260901</debut><fin>20261231</fin></periode></session>
</action></formation>
<formation numero="F2"><intitule-formation>Autre</intitule-formation>
<action numero="A3"><nombre-heures-total>35</nombre-heures-total>
<session numero="S3"><periode><debut>20260901</debut><fin>20261231</fin></periode></session></action></formation>
</offres></lheo>""".encode()


@pytest.mark.parametrize(
    ("hours", "places", "rule"),
    [
        ("9" * 5000, "12", "borne"),  # int() refuses more than 4,300 digits
        ("99999999999", "12", "borne"),
        ("697", "²", "type"),  # "²".isdigit() is True, int("²") raises
        ("3\u0665", "12", "type"),  # an Arabic-Indic digit: int() would take it
        ("697", "1" + "0" * 4400, "borne"),
    ],
)
def test_a_hostile_count_refuses_its_action_only(hours: str, places: str, rule: str) -> None:
    ctx = context("region-24", "formation.OffreSession")
    outcomes = list(parse_lheo(_lheo(hours, places), ctx))
    assert [type(o) for o in outcomes] == [Rejected, Draft, Draft]
    problem = outcomes[0].problems[0]  # type: ignore[union-attr]
    assert problem.rule == rule and problem.path.startswith("formation[1]/action[1]/")
    assert len(problem.received or "") < 80


def test_leading_zeros_are_still_a_count() -> None:
    [first, *_] = parse_lheo(_lheo("0" * 5000 + "35"), context("region-24", "formation.OffreSession"))
    assert isinstance(first, Draft) and first.record["nombreHeuresTotal"] == 35


def _csv(cells: dict[int, tuple[str, str]]) -> bytes:
    rows = [
        {
            "idPositionnement": f"P-{i}",
            "pseudonyme": PSEUDONYM,
            "idSession": "53:1",
            "codeStructure": "35238S00",
            "statut": "LISTE_ATTENTE",
            "rangListeAttente": 3,
            "dateStatut": "01/03/2026",
            "commentaire": "rien",
        }
        for i in range(4)
    ]
    text = simulated.region_csv_file(STATUS, rows, SHAPES[STATUS]).decode()
    lines = text.split("\r\n")
    header = lines[0].split(";")
    for line, (column, value) in cells.items():
        cols = lines[line - 1].split(";")
        cols[header.index(column)] = value
        lines[line - 1] = ";".join(cols)
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("commentaire", "x" * 1_000_000, "limite_taille_champ"),  # csv.Error: field larger than field limit
        ("rang_liste_attente", "9" * 5000, "borne"),
        ("rang_liste_attente", "²", "type"),
        ("rang_liste_attente", "1_000", "type"),
        ("rang_liste_attente", "\uff13", "type"),  # full-width 3
    ],
)
def test_a_hostile_cell_refuses_its_row_only(column: str, value: str, rule: str) -> None:
    outcomes = list(region_csv.parse(_csv({3: (column, value)}), context("region-53", STATUS)))
    assert [type(o) for o in outcomes] == [Draft, Rejected, Draft, Draft]
    assert outcomes[1].position == "ligne 3" and outcomes[1].problems[0].rule == rule  # type: ignore[union-attr]


def test_a_huge_amount_is_a_rule_error() -> None:
    base = orjson.loads(simulated.imilo_message("aide.DemandeAide", {"idDossier": "D-1", "idDemande": "A-1"}))
    items = [{**base, "montantDemande": 1e308}, {**base, "montantDemande": 12.5}]
    first, second = imilo_json.parse(orjson.dumps(items), context("imilo"))
    assert isinstance(first, Rejected) and first.problems[0].rule == "borne"
    assert isinstance(second, Draft) and second.record["montantDemandeCentimes"] == 1250


@pytest.mark.parametrize("date", ["2026-W10-1", "20260302", "２０２６-03-02"])
def test_only_calendar_dates_are_dates(date: str) -> None:
    native = {"evenement": STATUS, "id_positionnement": "P", "pseudonyme": PSEUDONYM, "date_statut": date}
    [out] = region_json.parse(orjson.dumps(native), context("region-24"))
    assert isinstance(out, Rejected) and out.problems[0].path == "date_statut"


def _statuses() -> bytes:
    item = status_item()
    return simulated.region_json_message(STATUS, [item, {**item, "id_positionnement": "P-2"}])


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "hier", "²"])
def test_a_bad_ce_time_is_a_rule_error_not_an_internal_one(moment: str) -> None:
    seen = translator("region-24").run(incoming("region-24", _statuses(), ce_time=moment))
    assert seen.problems == ["en_tete"] and seen.rejected[0].problems[0].path == "ce_time"


def test_a_good_ce_time_and_a_strange_first_line_header() -> None:
    seen = translator("region-24").run(incoming("region-24", _statuses(), ce_time="2026-03-05T10:00:00+01:00"))
    assert len(seen.canonical) == 2 and not seen.rejected
    odd = translator("region-53").run(incoming("region-53", _csv({}), headers={FIRST_LINE: "²"}, ce_type=STATUS))
    assert len(odd.canonical) == 4 and not odd.rejected


def test_an_amount_that_becomes_a_nir_in_cents_is_refused() -> None:
    """Found by the fuzz suite: 2840537261084.46 euros is a decimal number, not a NIR, until converted to cents."""
    base = orjson.loads(simulated.imilo_message("aide.DemandeAide", {"idDossier": "D-1", "idDemande": "A-1"}))
    [refused] = imilo_json.parse(orjson.dumps({**base, "montantDemande": 2840537261084.46}), context("imilo"))
    assert isinstance(refused, Rejected) and refused.problems[0].code == "nir"
    assert "2840537261084" not in repr(refused)
