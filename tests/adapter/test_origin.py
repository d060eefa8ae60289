"""The sender is who it says it is: a message read from ``in.<partner>`` that claims another origin (its
``ce_source`` or ``passerelle_sender`` header, or the Region code an event names as its publisher) is refused to
the DLQ and the partner's feedback, rule ``origine_usurpee``; a claim naming the partner, or none, goes through."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from passerelle.core import events
from passerelle.core.headers import SENDER
from passerelle.core.origin import USURPED, header_claim, record_claim, source_forms
from passerelle.core.partners import Profiles
from passerelle.runtime.messages import Output
from passerelle.settings import PROJECT_ROOT
from passerelle.simulation import native as simulated
from tests.adapter.samples import status_item
from tests.dialect_context import CATALOGUE, SHAPES
from tests.logs import captured_logs
from tests.translator import Seen, incoming, translator

STATUS = "formation.StatutCandidature"
DECISION = "aide.DecisionAide"
DROPOUT = "reperage.SignalementDecrochage"
ORIENTATION = "orientation.EvenementOrientation"
POSITIONNEMENT = "formation.Positionnement"
PSEUDONYM = "b" * 64
NAME = "Dupontel"
EMAIL = "jean.dupont@exemple.fr"
PROFILES = Profiles.load(PROJECT_ROOT / "contracts" / "partners")


def _status() -> bytes:
    item = status_item()
    return simulated.region_json_message(STATUS, item)


def _decision(region: str, demande: str = "A-1") -> dict[str, Any]:
    return {
        "id_demande": demande,
        "pseudonyme": PSEUDONYM,
        "code_structure": "37261S00",
        "region": region,
        "decision": "ACCORDEE",
        "date_decision": "2026-03-02",
    }


def _positionnement() -> bytes:
    fields = {
        "idDossier": "D-1",
        "idPositionnement": "P-1",
        "jeune": {"nomNaissance": NAME},
        "codeStructure": "69123S00",
        "idSession": "84:9",
        "datePositionnement": dt.date(2026, 2, 2),
        "dispositif": "PACEA",
    }
    return simulated.imilo_message(POSITIONNEMENT, fields)


def _dropouts(*regions: str) -> bytes:
    rows = [
        {
            "idSignalement": f"S-{i}",
            "region": region,
            "dateSignalement": dt.date(2026, 2, 1),
            "source": "SIEI",
            "situation": "DECROCHAGE",
            "jeune": {"id_jeune": f"R53-{i}", "nomNaissance": NAME, "courriel": EMAIL, "codeInseeCommune": "35238"},
        }
        for i, region in enumerate(regions)
    ]
    return simulated.region_csv_file(DROPOUT, rows, SHAPES[DROPOUT], "latin-1")


def _only(seen: Seen, topic: str) -> Output:
    [found] = [o for o in seen.outputs if o.topic == topic]
    return found


def _feedback(seen: Seen, partner: str) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(_only(seen, f"feedback.{partner}").value)
    return body


def _errors(seen: Seen, service: str) -> dict[str, str]:
    dlq = _only(seen, f"dlq.{service}")
    prefix = "passerelle_error_"
    return {k.removeprefix(prefix): v.decode() for k, v in dlq.headers if k.startswith(prefix)}


# ---------------------------------------------------------------- ce_source and passerelle_sender headers


def test_a_region_message_claiming_another_regions_source_is_refused_with_the_rule_and_the_header() -> None:
    message = incoming("region-24", _status(), ce_source="region-53", ce_type=STATUS)
    seen = translator("region-24").run(message)
    assert not seen.canonical and seen.problems == [USURPED]
    [problem] = seen.rejected[0].problems
    assert (problem.path, problem.rule, problem.received) == ("ce_source", USURPED, "region-53")
    assert problem.message == (
        "en-tête ce_source : le message, publié sur in.region-24, se dit émis par region-53 ; un partenaire ne "
        "publie qu'en son nom (valeurs admises : region-24, partenaire/region-24, /partenaire/region-24, ou "
        "en-tête absent)"
    )
    assert sorted(o.topic for o in seen.outputs) == ["dlq.region_adapter", "feedback.region-24"]
    feedback = _feedback(seen, "region-24")
    assert (feedback["statut"], feedback["acceptes"], feedback["rejetes"]) == ("rejete", 0, 1)
    [error] = feedback["erreurs"]
    assert (error["code"], error["chemin"], error["regle"], error["contrat"]) == (
        USURPED,
        "ce_source",
        USURPED,
        f"{STATUS} v1",
    )
    errors = _errors(seen, "region_adapter")
    assert (errors["code"], errors["path"], errors["rule"], errors["contract"]) == (
        USURPED,
        "ce_source",
        USURPED,
        f"{STATUS} v1",
    )


@pytest.mark.parametrize("source", source_forms("region-24"))
def test_a_source_naming_the_topics_partner_goes_through(source: str) -> None:
    seen = translator("region-24").run(incoming("region-24", _status(), ce_source=source))
    assert len(seen.canonical) == 1 and not seen.rejected


@pytest.mark.parametrize("headers", [{}, {"ce_source": ""}, {SENDER: ""}])
def test_no_claim_is_the_topics_partner(headers: dict[str, str]) -> None:
    seen = translator("region-24").run(incoming("region-24", _status(), headers=headers))
    assert len(seen.canonical) == 1 and not seen.rejected
    # The canonical event names the topic's partner, whatever the sender wrote.
    assert dict(seen.canonical[0].headers)["ce_source"] == b"region-24"


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("imilo", "se dit émis par imilo"),
        ("/partenaire/region-53", "se dit émis par region-53"),
        ("partenaire/region-84", "se dit émis par region-84"),
        ("passerelle/region_adapter", "se dit émis par Passerelle"),
        ("Region-24", "se dit émis par un autre expéditeur"),
        ("region-24 ", "se dit émis par un autre expéditeur"),
        ("https://si.region-53.fr/exports", "se dit émis par un autre expéditeur"),
    ],
)
def test_any_other_source_is_refused(source: str, said: str) -> None:
    seen = translator("region-24").run(incoming("region-24", _status(), ce_source=source))
    assert not seen.canonical and seen.problems == [USURPED]
    assert said in seen.rejected[0].problems[0].message


def test_every_value_of_a_header_given_twice_counts_and_its_spelling_does_not_matter() -> None:
    twice = (("ce_source", b"region-53"), ("ce_source", b"region-24"))
    assert header_claim("region-24", twice) is not None  # the last value (what most readers keep) is not enough
    problem = header_claim("region-24", [("CE-Source", b"imilo")])
    assert problem is not None and problem.path == "ce_source"
    assert header_claim("region-24", [("ce_source", None), ("ce_id", b"imilo"), ("ce_type", b"region-53")]) is None


def test_passerelles_own_sender_header_may_only_name_the_topics_partner() -> None:
    # A DLQ record replayed to in.region-24 carries passerelle_sender=region-24: it goes through.
    replayed = translator("region-24").run(incoming("region-24", _status(), headers={SENDER: "region-24"}))
    assert len(replayed.canonical) == 1 and not replayed.rejected
    forged = translator("region-24").run(incoming("region-24", _status(), headers={SENDER: "imilo"}))
    assert not forged.canonical and forged.problems == [USURPED]
    problem = forged.rejected[0].problems[0]
    assert problem.path == SENDER and problem.expected == "region-24" and "se dit émis par imilo" in problem.message


def test_imilo_messages_are_checked_too() -> None:
    good = translator("imilo").run(incoming("imilo", _positionnement(), ce_source="imilo"))
    assert len(good.canonical) == 1 and not good.rejected
    forged = translator("imilo").run(incoming("imilo", _positionnement(), ce_source="region-24"))
    assert not forged.canonical and forged.problems == [USURPED]
    [error] = _feedback(forged, "imilo")["erreurs"]
    assert (error["chemin"], error["regle"], error["attendu"]) == (
        "ce_source",
        USURPED,
        "imilo, partenaire/imilo, /partenaire/imilo",
    )
    assert _errors(forged, "milo_adapter")["code"] == USURPED
    # And the other way round: a Region cannot speak as I-MILO.
    as_imilo = translator("region-24").run(incoming("region-24", _status(), ce_source="imilo"))
    assert as_imilo.problems == [USURPED]


# ---------------------------------------------------------------- the Region an event names as its publisher


def test_a_region_event_naming_another_region_is_refused_and_the_others_go_through() -> None:
    payload = simulated.region_json_message(DECISION, [_decision("24", "A-1"), _decision("53", "A-2")])
    seen = translator("region-24").run(incoming("region-24", payload))
    assert len(seen.canonical) == 1 and seen.problems == [USURPED]
    rejected = seen.rejected[0]
    [problem] = rejected.problems
    assert (rejected.position, problem.path, problem.rule) == ("élément 2", "region", USURPED)
    assert (problem.expected, problem.received) == ("24", "53")
    assert problem.message == (
        "région émettrice : l'événement, publié sur in.region-24, se dit émis par la région 53 ; il ne peut venir "
        "que de la région 24 : un partenaire ne publie qu'en son nom"
    )
    feedback = _feedback(seen, "region-24")
    assert (feedback["statut"], feedback["acceptes"], feedback["rejetes"]) == ("partiel", 1, 1)
    [error] = feedback["erreurs"]
    assert (error["chemin"], error["regle"], error["contrat"], error["position"]) == (
        "region",
        USURPED,
        f"{DECISION} v1",
        "élément 2",
    )


def test_a_csv_row_naming_another_region_is_refused_by_its_line_without_personal_data() -> None:
    with captured_logs() as logs:
        seen = translator("region-53").run(incoming("region-53", _dropouts("53", "24", "53"), ce_type=DROPOUT))
    assert len(seen.canonical) == 2 and seen.problems == [USURPED]
    assert seen.rejected[0].position == "ligne 3" and seen.rejected[0].problems[0].path == "region"
    errors = _errors(seen, "region_adapter")
    assert (errors["code"], errors["path"], errors["position"], errors["contract"]) == (
        USURPED,
        "region",
        "ligne 3",
        f"{DROPOUT} v1",
    )
    # The refusal names the field and the codes, never the young person: not in the errors, feedback or logs.
    feedback = _only(seen, "feedback.region-53").value.decode()
    told = [feedback, *errors.values(), repr(logs)]
    assert all(NAME not in text and EMAIL not in text for text in told)
    assert [e["code"] for e in logs if e["event"] == "message.rejete"] == [USURPED]


def test_a_source_holding_personal_text_is_not_quoted_back() -> None:
    seen = translator("region-24").run(incoming("region-24", _status(), ce_source=f"{NAME} <{EMAIL}>"))
    [problem] = seen.rejected[0].problems
    assert EMAIL not in problem.message and EMAIL not in (problem.received or "")
    assert EMAIL not in _only(seen, "feedback.region-24").value.decode()


def test_a_region_event_naming_its_own_region_goes_through() -> None:
    orientation = {
        "id_evenement": "EVT-1",
        "region": "24",
        "type_evenement": "FORUM",
        "titre": "Forum des métiers",
        "date_debut": "2026-04-01",
    }
    payload = simulated.region_json_message(ORIENTATION, orientation)
    seen = translator("region-24").run(incoming("region-24", payload))
    assert len(seen.canonical) == 1 and not seen.rejected
    forged = translator("region-24").run(incoming("region-24", payload.replace(b'"24"', b'"84"')))
    assert forged.problems == [USURPED]


def test_a_malformed_region_code_is_a_format_error_not_an_usurpation() -> None:
    payload = simulated.region_json_message(DECISION, _decision("Centre"))
    seen = translator("region-24").run(incoming("region-24", payload))
    assert seen.problems == ["validation"] and seen.rejected[0].problems[0].path == "region"


def test_the_region_an_imilo_event_names_is_its_recipient_not_its_origin() -> None:
    fields = {
        "idDossier": "D-1",
        "idDemande": "A-1",
        "codeStructure": "69123S00",
        "region": "84",
        "typeAide": "MOBILITE",
        "dateDemande": dt.date(2026, 2, 3),
    }
    seen = translator("imilo").run(incoming("imilo", simulated.imilo_message("aide.DemandeAide", fields)))
    assert len(seen.canonical) == 1 and not seen.rejected


def test_record_claim_as_a_pure_function() -> None:
    region_24 = PROFILES["region-24"]
    assert record_claim(region_24, DECISION, {"region": "24"}) is None
    assert record_claim(region_24, STATUS, {"region": "53"}) is None  # StatutCandidature names no origin
    problem = record_claim(region_24, DROPOUT, {"region": "53"})
    assert problem is not None and (problem.code, problem.path, problem.expected) == (USURPED, "region", "24")
    assert record_claim(PROFILES["imilo"], DECISION, {"region": "24"}) is not None


def test_every_origin_field_is_a_region_code_of_an_event_regions_publish() -> None:
    declared = [e for e in events.EVENTS if e.origin_field]
    assert {e.subject for e in declared} == {"formation.OffreSession", DECISION, DROPOUT, ORIENTATION}
    for event in declared:
        fields = {f["name"]: f for f in CATALOGUE.latest(event.subject).schema["fields"]}
        assert event.publisher == events.REGION
        assert fields[str(event.origin_field)].get("format") == "region", event.subject
