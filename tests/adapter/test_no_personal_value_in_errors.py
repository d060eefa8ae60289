"""Errors carry paths and rule names, never values taken from personal fields: a NIR sent as a number, a NIR or
an e-mail address used as a field name, a data row where the CSV header should be, personal-looking values in
other fields and in the event's name."""

from __future__ import annotations

import json

import orjson
import pytest

from passerelle.core.dialect import Rejected
from passerelle.core.privacy import MASKED_NAME, contains_nir
from passerelle.simulation import native as simulated
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects import region_csv, region_json
from services.region_adapter.dialects.lheo import parse_lheo
from tests.dialect_context import SHAPES, context
from tests.translator import incoming, translator

NIR = 184127645108946
EMAIL = "jean.dupont@exemple.fr"
PHONE = "06 12 34 56 78"
STATUS = "formation.StatutCandidature"


def _clean(rejected: Rejected) -> None:
    """No personal value anywhere in what the sender (and the DLQ) will read."""
    for problem in rejected.problems:
        for text in (problem.path, problem.message, problem.received or "", problem.expected or ""):
            assert not contains_nir(text), problem
            assert EMAIL not in text and "dupont" not in text.lower() and PHONE not in text, problem
    assert not contains_nir(rejected.position or "") and EMAIL not in (rejected.position or "")


def _one(outcomes: object) -> Rejected:
    [only] = list(outcomes)  # type: ignore[call-overload]
    assert isinstance(only, Rejected), only
    _clean(only)
    return only


def _status(**changes: object) -> dict[str, object]:
    return {"evenement": STATUS, "id_positionnement": "P-1", "pseudonyme": "b" * 64, "statut": "ADMIS", **changes}


@pytest.mark.parametrize("field", ["rang_liste_attente", "id_positionnement", "commentaire"])
def test_a_nir_sent_as_a_number_is_never_received_back(field: str) -> None:
    refused = _one(region_json.parse(orjson.dumps(_status(**{field: NIR})), context("region-24")))
    assert refused.problems[0].code == "nir" and refused.problems[0].received is None
    native = orjson.loads(simulated.imilo_message("formation.Positionnement", {"idDossier": "D-1"}))
    _one(imilo_json.parse(orjson.dumps({**native, "codeRomeVise": NIR}), context("imilo")))


@pytest.mark.parametrize("name", [str(NIR), EMAIL, "2 84 05 37 261 084 46", f"tel {PHONE}"])
def test_a_personal_value_used_as_a_field_name_is_not_the_path(name: str) -> None:
    top = _one(region_json.parse(orjson.dumps(_status(**{name: "x"})), context("region-24")))
    assert any(p.path == MASKED_NAME or p.code == "nir" for p in top.problems)
    dropout = {"evenement": "reperage.SignalementDecrochage", "jeune": {"id_jeune": "R1", name: "x"}}
    nested = _one(region_json.parse(orjson.dumps(dropout), context("region-53")))
    assert any(p.path == f"jeune.{MASKED_NAME}" or p.code == "nir" for p in nested.problems)
    native = orjson.loads(simulated.imilo_message("formation.Positionnement", {"idDossier": "D-1"}))
    native["dossier"][name] = "x"
    outcomes = list(imilo_json.parse(orjson.dumps(native), context("imilo")))
    for outcome in outcomes:  # an unknown dossier field is dropped; a NIR as its name is refused
        if isinstance(outcome, Rejected):
            _clean(outcome)


HEADER = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut;commentaire"


def _row(i: int, comment: str = "ok") -> str:
    return f"P-{i};{'b' * 64};53:1;35238S00;ADMIS;01/03/2026;{comment}"


def test_a_csv_without_its_header_line_does_not_quote_its_first_row() -> None:
    first = f"P-1;{'b' * 64};53:1;35238S00;ADMIS;01/03/2026;Dupont Jean {EMAIL} {PHONE}"
    refused = _one(region_csv.parse(f"{first}\r\n{_row(2)}\r\n".encode(), context("region-53", STATUS)))
    [problem] = refused.problems
    assert problem.rule == "en_tete_absent" and "ADMIS" not in problem.message and "P-1" not in problem.message
    assert "id_positionnement" in (problem.expected or "")


def test_a_typo_in_a_real_header_is_still_named() -> None:
    typo = HEADER.replace("commentaire", "commentaires")
    refused = _one(region_csv.parse(f"{typo}\r\n{_row(1)}\r\n".encode(), context("region-53", STATUS)))
    assert "commentaires" in refused.problems[0].message


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"statut": EMAIL}, "statut"),
        ({"date_statut": PHONE}, "date_statut"),
        ({"code_structure": f"{EMAIL} {NIR}"}, "code_structure"),
        ({"evenement": EMAIL}, "evenement"),
    ],
)
def test_personal_looking_values_are_masked_where_a_value_is_quoted(changes: dict[str, object], path: str) -> None:
    seen = translator("region-24").run(incoming("region-24", orjson.dumps(_status(**changes))))
    assert seen.rejected and not seen.canonical
    for rejected in seen.rejected:
        _clean(rejected)
    assert path in {p.path for r in seen.rejected for p in r.problems}


def test_the_event_header_is_not_quoted_back() -> None:
    seen = translator("region-24").run(incoming("region-24", json.dumps(_status()).encode(), ce_type=EMAIL))
    assert seen.problems == ["evenement_non_publie"]
    _clean(seen.rejected[0])


def test_lheo_values_are_masked_and_sessions_named_by_place() -> None:
    feed = f"""<lheo xmlns="http://lheo.gouv.fr/2.3"><offres><formation><intitule-formation>T</intitule-formation>
<domaine-formation><code-FORMACODE>{EMAIL}</code-FORMACODE></domaine-formation>
<action><session numero="{EMAIL}"><periode><debut>{PHONE}</debut><fin>20261231</fin></periode></session>
</action></formation></offres></lheo>""".encode()
    refused = _one(parse_lheo(feed, context("region-24", "formation.OffreSession")))
    assert refused.problems[0].rule == "format_formacode"
    feed = feed.replace(f"<code-FORMACODE>{EMAIL}".encode(), b"<code-FORMACODE>22403")
    refused = _one(parse_lheo(feed, context("region-24", "formation.OffreSession")))
    assert refused.problems[0].path.endswith("periode/debut") and refused.position == "formation 1 / session 1-1"


def test_personal_fields_stay_masked_whatever_their_type() -> None:
    rows = [{"idSignalement": "S1", "region": "53", "jeune": {"nomNaissance": EMAIL, "dateNaissance": PHONE}}]
    subject = "reperage.SignalementDecrochage"
    payload = simulated.region_csv_file(subject, rows, SHAPES[subject])
    for outcome in region_csv.parse(payload, context("region-53", subject)):
        if isinstance(outcome, Rejected):
            _clean(outcome)
