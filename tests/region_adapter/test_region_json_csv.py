"""Region JSON and CSV: good rows through, bad rows rejected with their line, NIRs refused, nulls never written."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.dialect import Draft, OutboundContext, Rejected
from passerelle.simulation import native as simulated
from services.region_adapter.dialects import region_csv, region_json
from tests.dialect_context import PSEUDO, SHAPES, context

PSEUDONYM = PSEUDO("imilo", "D-1")
STATUS = "formation.StatutCandidature"
NIR = "2 84 05 37 261 084 46"


def _status(**overrides: object) -> dict[str, object]:
    return {
        "id_positionnement": "P-1",
        "pseudonyme": PSEUDONYM,
        "id_session": "24:1",
        "code_structure": "37261S00",
        "statut": "REFUSE",
        "motif_refus": None,
        "date_statut": "2026-03-05",
        **overrides,
    }


def test_json_status_translates_to_the_contract(typed: TypedContracts) -> None:
    [draft] = region_json.parse(simulated.region_json_message(STATUS, _status()), context("region-24"))
    assert isinstance(draft, Draft) and draft.key == PSEUDONYM
    record = typed.validate(STATUS, draft.record)
    assert record["statut"] == "REFUSE" and record["dateStatut"] == dt.date(2026, 3, 5)


def test_json_arrays_and_bad_items() -> None:
    payload = orjson.dumps(
        [
            {"evenement": STATUS, **_status()},
            {"evenement": STATUS, **_status(date_statut="05/03/2026")},
            {"evenement": "formation.Positionnement"},
            {"evenement": STATUS, **_status(couleur="bleu")},
            7,
        ]
    )
    outcomes = list(region_json.parse(payload, context("region-24")))
    assert isinstance(outcomes[0], Draft)
    assert [o.problems[0].path for o in outcomes[1:4]] == ["[1].date_statut", "[2].evenement", "[3].couleur"]  # type: ignore[union-attr]
    assert isinstance(outcomes[4], Rejected)
    [broken] = region_json.parse(b"{pas du json", context("region-24"))
    assert isinstance(broken, Rejected) and broken.problems[0].code == "json"


def test_dropout_pseudonym_from_ine_or_the_regions_own_id(typed: TypedContracts) -> None:
    base = {
        "id_signalement": "S1",
        "region": "53",
        "date_signalement": "2026-02-01",
        "source": "SIEI",
        "situation": "DECROCHAGE",
    }
    with_ine = {**base, "jeune": {"ine": "123456789AB", "nom_naissance": "Le Goff", "code_insee_commune": "35238"}}
    own_id = {**base, "jeune": {"id_jeune": "R53-77", "code_insee_commune": "35238"}}
    [a] = region_json.parse(
        simulated.region_json_message("reperage.SignalementDecrochage", with_ine), context("region-53")
    )
    [b] = region_json.parse(
        simulated.region_json_message("reperage.SignalementDecrochage", own_id), context("region-53")
    )
    assert isinstance(a, Draft) and isinstance(b, Draft)
    assert a.record["jeune"]["pseudonyme"] == PSEUDO("ine", "123456789AB")
    assert b.record["jeune"]["pseudonyme"] == PSEUDO("region-53", "R53-77")
    assert "id_jeune" not in orjson.dumps(b.record).decode()
    typed.validate("reperage.SignalementDecrochage", b.record)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_csv_good_rows_go_through_and_bad_rows_name_their_line(encoding: str, typed: TypedContracts) -> None:
    rows = [
        {
            "idPositionnement": f"P-{i}",
            "pseudonyme": PSEUDONYM,
            "idSession": "53:1",
            "codeStructure": "35238S00",
            "statut": "ADMIS",
            "dateStatut": dt.date(2026, 3, i + 1),
            "commentaire": "Très motivée, élève sérieuse",
        }
        for i in range(10)
    ]
    text = simulated.region_csv_file(STATUS, rows, SHAPES[STATUS], encoding).decode(encoding).splitlines()
    text[3] = text[3].replace("ADMIS", "PEUT-ETRE")  # line 4
    text[6] = text[6].replace("06/03/2026", "2026-03-06")  # line 7: ISO date in a CSV
    text[9] = text[9] + ";en trop"  # line 10
    payload = "\r\n".join(text).encode(encoding)
    outcomes = list(region_csv.parse(payload, context("region-53", STATUS, encoding)))
    drafts = [o for o in outcomes if isinstance(o, Draft)]
    rejected = [o for o in outcomes if isinstance(o, Rejected)]
    assert len(drafts) == 7 and [r.position for r in rejected] == ["ligne 4", "ligne 7", "ligne 10"]
    assert drafts[0].record["commentaire"] == "Très motivée, élève sérieuse"
    for draft in drafts:
        typed.validate(STATUS, draft.record)


def test_csv_unknown_columns_and_missing_event() -> None:
    [unknown] = region_csv.parse(b"id_positionnement;couleur\r\nP;bleu\r\n", context("region-53", STATUS))
    assert isinstance(unknown, Rejected) and "couleur" in unknown.problems[0].message
    [missing] = region_csv.parse(b"a;b\r\n", context("region-53", None))
    assert isinstance(missing, Rejected) and missing.problems[0].path == "ce_type"


@pytest.mark.parametrize("where", ["commentaire", "id_positionnement"])
def test_a_nir_anywhere_is_refused_without_echo(where: str) -> None:
    native = _status(**{where: f"voir {NIR}"})
    [json_out] = region_json.parse(simulated.region_json_message(STATUS, native), context("region-24"))
    assert isinstance(json_out, Rejected) and json_out.problems[0].code == "nir"
    assert json_out.problems[0].path == where
    assert "084" not in repr(json_out)


def test_render_never_writes_null() -> None:
    record = {
        "idPositionnement": "P",
        "jeune": {"pseudonyme": PSEUDONYM, "prenom": None, "sexe": "INCONNU"},
        "codeStructure": "37261S00",
        "idSession": "24:1",
        "datePositionnement": dt.date(2026, 3, 1),
        "dispositif": "CEJ",
        "commentaire": None,
    }
    as_json = orjson.loads(
        region_json.render(
            "formation.Positionnement", record, OutboundContext(SHAPES["formation.Positionnement"])
        ).payload
    )
    assert "prenom" not in as_json["jeune"] and "commentaire" not in as_json
    as_csv = region_csv.render(
        "formation.Positionnement", record, OutboundContext(SHAPES["formation.Positionnement"])
    ).payload.decode()
    assert "None" not in as_csv and "01/03/2026" in as_csv
