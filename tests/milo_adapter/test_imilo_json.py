"""I-MILO JSON: dossiers become pseudonymised canonical records; errors name the I-MILO field."""

from __future__ import annotations

import datetime as dt

import orjson

from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.dialect import Draft, Rejected
from passerelle.settings import PROJECT_ROOT
from passerelle.simulation import native as simulated
from services.milo_adapter.dialects import imilo_json
from tests.dialect_context import PSEUDO, context

FIELDS = {
    "idDossier": "D-42",
    "idPositionnement": "P-42",
    "jeune": {"nomNaissance": "Nguyen", "prenom": "Théo", "dateNaissance": dt.date(2004, 6, 1), "sexe": "M"},
    "codeStructure": "69123S00",
    "idSession": "84:9",
    "datePositionnement": dt.date(2026, 2, 2),
    "dispositif": "PACEA",
}


def test_positionnement_is_pseudonymised_and_valid(typed: TypedContracts) -> None:
    [draft] = imilo_json.parse(simulated.imilo_message("formation.Positionnement", FIELDS), context("imilo"))
    assert isinstance(draft, Draft)
    record = typed.validate("formation.Positionnement", draft.record)
    assert record["jeune"]["pseudonyme"] == PSEUDO("imilo", "D-42") == draft.key
    assert "D-42" not in orjson.dumps(draft.record).decode()


def test_extra_dossier_fields_are_dropped_not_forwarded() -> None:
    native = orjson.loads(simulated.imilo_message("formation.Positionnement", FIELDS))
    native["dossier"]["situationFamiliale"] = "célibataire"
    [draft] = imilo_json.parse(orjson.dumps(native), context("imilo"))
    assert isinstance(draft, Draft) and "célibataire" not in orjson.dumps(draft.record).decode()


def test_errors_name_the_imilo_field() -> None:
    native = orjson.loads(simulated.imilo_message("formation.Positionnement", FIELDS))
    native["dossier"]["dateNaissance"] = "01/06/2004"
    del native["dossier"]["idDossier"]
    [rejected] = imilo_json.parse(orjson.dumps(native), context("imilo"))
    assert isinstance(rejected, Rejected)
    assert {p.path for p in rejected.problems} == {"dossier.dateNaissance", "dossier.idDossier"}
    assert all(p.received in (None, "(valeur masquée : donnée personnelle)") for p in rejected.problems)
    assert imilo_json.native_path("formation.Positionnement", "codeStructure") == "structureRattachement.codeStructure"


def test_unknown_event_and_nir() -> None:
    [unknown] = imilo_json.parse(b'{"typeEvenement": "formation.OffreSession"}', context("imilo"))
    assert isinstance(unknown, Rejected) and unknown.problems[0].path == "typeEvenement"
    native = orjson.loads(simulated.imilo_message("formation.Positionnement", FIELDS))
    native["commentaire"] = "NIR 284053726108446"
    [nir] = imilo_json.parse(orjson.dumps(native), context("imilo"))
    assert isinstance(nir, Rejected) and nir.problems[0].code == "nir" and "2840537" not in repr(nir)


def test_demande_aide_amount_in_euros_becomes_cents(typed: TypedContracts) -> None:
    fields = {
        **FIELDS,
        "idDemande": "A-1",
        "region": "84",
        "typeAide": "MOBILITE",
        "montantDemandeCentimes": 15050,
        "dateDemande": dt.date(2026, 2, 3),
    }
    payload = simulated.imilo_message("aide.DemandeAide", fields)
    assert orjson.loads(payload)["montantDemande"] == 150.5
    [draft] = imilo_json.parse(payload, context("imilo"))
    assert (
        isinstance(draft, Draft) and typed.validate("aide.DemandeAide", draft.record)["montantDemandeCentimes"] == 15050
    )


def test_render_outbound_drops_nulls() -> None:
    rendered = imilo_json.render(
        "formation.StatutCandidature", {"statut": "ADMIS", "commentaire": None, "dateStatut": dt.date(2026, 3, 1)}
    )
    assert orjson.loads(rendered.payload) == {
        "typeEvenement": "formation.StatutCandidature",
        "statut": "ADMIS",
        "dateStatut": "2026-03-01",
    }


def test_a_field_named_like_the_event_key_never_replaces_the_event() -> None:
    """orientation.EvenementOrientation has its own typeEvenement (the kind of event): I-MILO still reads the event."""
    rendered = imilo_json.render("orientation.EvenementOrientation", {"typeEvenement": "FORUM", "region": "24"})
    assert orjson.loads(rendered.payload) == {
        "typeEvenement": "orientation.EvenementOrientation",
        "natureEvenement": "FORUM",
        "region": "24",
    }


def test_the_dialects_guide_lists_every_imilo_field() -> None:
    guide = (PROJECT_ROOT / "docs" / "dialects.md").read_text(encoding="utf-8")
    for subject, fields in imilo_json.FIELDS.items():
        assert f"#### {subject}" in guide
        for native, canonical, kind in fields:
            assert f"| `{native}` | `{canonical}` | {kind} |" in guide, (subject, native)
