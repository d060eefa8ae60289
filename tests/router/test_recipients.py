"""The routing table, event by event: who receives what, what routing fills in, and each refusal's code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from passerelle.core import events
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.events import EVENTS, MISSION_LOCALE, REGION, Route
from passerelle.core.partners import PartnerProfile, Profiles
from passerelle.core.reference import load_reference, parse_structures
from passerelle.settings import PROJECT_ROOT
from services.router.recipients import RoutingError, recipients

EXAMPLES = PROJECT_ROOT / "contracts" / "examples"
REFERENCE = load_reference()


def canonical(typed: TypedContracts, subject: str, **overrides: Any) -> dict[str, Any]:
    """The contract's minimal example with ``overrides``, validated: a record as the router decodes it."""
    raw = json.loads((EXAMPLES / subject / "valid" / "minimal.json").read_text(encoding="utf-8"))
    return typed.validate(subject, {**raw, **overrides})


# One row per event of the table: (subject, sender, overrides of the minimal example, expected recipients).
EXPECTED: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = [
    ("formation.OffreSession", "region-24", {}, ("imilo",)),
    ("formation.Positionnement", "imilo", {"idSession": "53:77"}, ("region-53",)),
    ("formation.StatutCandidature", "region-84", {}, ("imilo",)),
    ("formation.EntreeFormation", "region-53", {}, ("imilo",)),
    ("formation.SortieFormation", "region-24", {}, ("imilo",)),
    ("reperage.SignalementDecrochage", "region-53", {"jeune": {"pseudonyme": "b" * 64, "codeInseeCommune": "35238"}},
     ("imilo",)),
    ("reperage.SuiteSignalement", "imilo", {"region": "53"}, ("region-53",)),
    ("aide.DemandeAide", "imilo", {"region": "84"}, ("region-84",)),
    ("aide.DecisionAide", "region-84", {"region": "84"}, ("imilo",)),
    ("orientation.EvenementOrientation", "region-24", {}, ("imilo",)),
    ("formation.AttenteProlongee", "passerelle", {"region": "84"}, ("imilo", "region-84")),
    ("pilotage.Indicateurs", "passerelle", {"region": "84"}, ("imilo", "region-84")),
]  # fmt: skip


def test_every_event_of_the_table_has_a_routing_case() -> None:
    # A new event in the table must come with its row above, or this file would silently not cover it.
    assert [row[0] for row in EXPECTED] == list(events.subjects())


@pytest.mark.parametrize(("subject", "sender", "overrides", "expected"), EXPECTED, ids=[r[0] for r in EXPECTED])
def test_each_event_goes_where_its_route_says(
    typed: TypedContracts,
    profiles: Profiles,
    subject: str,
    sender: str,
    overrides: dict[str, Any],
    expected: tuple[str, ...],
) -> None:
    record = canonical(typed, subject, **overrides)
    route = recipients(subject, record, sender, profiles, REFERENCE)
    assert route.partners == expected
    if events.BY_SUBJECT[subject].route is not Route.TO_ML_OF_COMMUNE:
        assert route.record is record  # nothing to fill in: the decoded record goes on untouched


def test_the_funding_region_comes_from_region_destinataire_before_the_session_prefix(
    typed: TypedContracts, profiles: Profiles
) -> None:
    record = canonical(typed, "formation.Positionnement", idSession="24:114782", regionDestinataire="84")
    assert recipients("formation.Positionnement", record, "imilo", profiles, REFERENCE).partners == ("region-84",)
    record = canonical(typed, "formation.Positionnement", idSession="24:114782")
    assert recipients("formation.Positionnement", record, "imilo", profiles, REFERENCE).partners == ("region-24",)


@pytest.mark.parametrize("session", ["114782", ""])
def test_no_funding_region_is_a_routing_error_on_id_session(
    typed: TypedContracts, profiles: Profiles, session: str
) -> None:
    # The contract accepts any idSession; only routing needs the "<region>:" prefix.
    record = canonical(typed, "formation.Positionnement", idSession=session)
    with pytest.raises(RoutingError) as caught:
        recipients("formation.Positionnement", record, "imilo", profiles, REFERENCE)
    assert (caught.value.code, caught.value.path) == ("region_inconnue", "idSession")
    assert "regionDestinataire" in caught.value.message


@pytest.mark.parametrize("subject", ["reperage.SuiteSignalement", "aide.DemandeAide", "pilotage.Indicateurs"])
@pytest.mark.parametrize("region", [None, ""])
def test_no_named_region_is_a_routing_error_on_region(profiles: Profiles, subject: str, region: str | None) -> None:
    with pytest.raises(RoutingError) as caught:
        recipients(subject, {"region": region}, "imilo", profiles, REFERENCE)
    assert (caught.value.code, caught.value.path) == ("region_inconnue", "region")


def test_a_dropout_goes_to_the_mission_locale_of_the_commune_filled_into_code_structure(
    typed: TypedContracts, profiles: Profiles
) -> None:
    jeune = {"pseudonyme": "b" * 64, "codeInseeCommune": "29075"}
    record = canonical(typed, "reperage.SignalementDecrochage", jeune=jeune)
    assert record["codeStructure"] is None
    route = recipients("reperage.SignalementDecrochage", record, "region-53", profiles, REFERENCE)
    assert route.partners == ("imilo",)
    assert route.record["codeStructure"] == "29019S00"  # Brest serves Guipavas (29075)
    assert record["codeStructure"] is None  # the decoded record is not modified in place
    assert {k: v for k, v in route.record.items() if k != "codeStructure"} == {
        k: v for k, v in record.items() if k != "codeStructure"
    }


def test_a_dropout_naming_its_structure_keeps_it_without_a_lookup(typed: TypedContracts, profiles: Profiles) -> None:
    # A commune the reference does not know: proof the lookup was skipped.
    jeune = {"pseudonyme": "b" * 64, "codeInseeCommune": "97411"}
    record = canonical(typed, "reperage.SignalementDecrochage", jeune=jeune, codeStructure="37261S00")
    route = recipients("reperage.SignalementDecrochage", record, "region-24", profiles, REFERENCE)
    assert route.record is record and route.record["codeStructure"] == "37261S00"


def test_a_commune_served_by_several_structures_goes_to_the_first_listed(profiles: Profiles) -> None:
    reference = parse_structures("45234S00;Orléans;24;45;45232|45234\n37261S00;Tours;24;37;37261|45232\n", "t.csv")
    record = {"jeune": {"codeInseeCommune": "45232"}, "codeStructure": None}
    route = recipients("reperage.SignalementDecrochage", record, "region-24", profiles, reference)
    assert route.record["codeStructure"] == "45234S00"


@pytest.mark.parametrize(
    ("jeune", "code"),
    [
        ({"pseudonyme": "b" * 64}, "commune_absente"),
        ({"pseudonyme": "b" * 64, "codeInseeCommune": ""}, "commune_absente"),
        (None, "commune_absente"),
        ({"pseudonyme": "b" * 64, "codeInseeCommune": "97411"}, "commune_sans_mission_locale"),
    ],
    ids=["sans-commune", "commune-vide", "sans-jeune", "commune-inconnue"],
)
def test_a_dropout_without_a_known_commune_is_a_routing_error(
    profiles: Profiles, jeune: dict[str, Any] | None, code: str
) -> None:
    record = {"idSignalement": "S-1", "jeune": jeune, "region": "24", "codeStructure": None}
    with pytest.raises(RoutingError) as caught:
        recipients("reperage.SignalementDecrochage", record, "region-24", profiles, REFERENCE)
    assert (caught.value.code, caught.value.path) == (code, "jeune.codeInseeCommune")


def test_an_unknown_event_is_a_routing_error(profiles: Profiles) -> None:
    with pytest.raises(RoutingError) as caught:
        recipients("formation.Inconnu", {}, "imilo", profiles, REFERENCE)
    assert caught.value.code == "evenement_inconnu"


def _profile(partner: str, receives: list[str]) -> PartnerProfile:
    region = partner.removeprefix("region-") if partner != "imilo" else None
    family = MISSION_LOCALE if region is None else REGION
    dialect = "imilo-json" if region is None else "region-json"
    return PartnerProfile.model_validate(
        {
            "id": partner,
            "nom": partner,
            "famille": family,
            "region": region,
            "recoit": {s: {"dialecte": dialect} for s in receives},
        }
    )


def _profiles(*items: PartnerProfile) -> Profiles:
    return Profiles({p.id: p for p in items})


def test_a_recipient_not_subscribed_is_left_out() -> None:
    subject = "pilotage.Indicateurs"
    record = {"region": "24"}
    both = _profiles(_profile("imilo", [subject]), _profile("region-24", [subject]))
    assert recipients(subject, record, "passerelle", both, REFERENCE).partners == ("imilo", "region-24")
    no_region = _profiles(_profile("imilo", [subject]), _profile("region-24", []))
    assert recipients(subject, record, "passerelle", no_region, REFERENCE).partners == ("imilo",)
    no_ml = _profiles(_profile("imilo", []), _profile("region-24", [subject]))
    assert recipients(subject, record, "passerelle", no_ml, REFERENCE).partners == ("region-24",)


def test_a_region_without_a_profile_is_left_out(profiles: Profiles) -> None:
    # Île-de-France (11) is a valid region code with no partner profile in the repository.
    assert "region-11" not in profiles
    route = recipients("pilotage.Indicateurs", {"region": "11"}, "passerelle", profiles, REFERENCE)
    assert route.partners == ("imilo",)


@pytest.mark.parametrize(
    ("subject", "record", "targets"),
    [
        ("formation.Positionnement", {"idSession": "11:5"}, "region-11"),
        ("aide.DemandeAide", {"region": "11"}, "region-11"),
        ("formation.OffreSession", {}, "imilo"),
    ],
)
def test_no_subscriber_at_all_is_a_routing_error(
    profiles: Profiles, subject: str, record: dict[str, Any], targets: str
) -> None:
    # region-11 has no profile; and an imilo that receives nothing.
    chosen = profiles if targets != "imilo" else _profiles(_profile("imilo", []), _profile("region-24", []))
    with pytest.raises(RoutingError) as caught:
        recipients(subject, record, "imilo", chosen, REFERENCE)
    assert caught.value.code == "non_abonne"
    assert targets in caught.value.message and subject in caught.value.message


def test_both_parties_get_the_aggregates_even_the_region_that_is_the_sender(profiles: Profiles) -> None:
    route = recipients("pilotage.Indicateurs", {"region": "24"}, "region-24", profiles, REFERENCE)
    assert route.partners == ("imilo", "region-24")


def test_a_region_is_not_sent_back_what_it_sent() -> None:
    # A Region that both publishes and receives a subject routed to the region it names.
    subject = "aide.DemandeAide"
    both = _profiles(_profile("region-24", [subject]), _profile("region-53", [subject]))
    assert recipients(subject, {"region": "53"}, "region-24", both, REFERENCE).partners == ("region-53",)
    # I-MILO is never excluded as a sender: it speaks for 436 structures, not one party.
    offre = "formation.OffreSession"
    imilo = _profiles(_profile("imilo", [offre]))
    assert recipients(offre, {}, "imilo", imilo, REFERENCE).partners == ("imilo",)


def test_a_region_that_is_the_only_recipient_of_its_own_event_is_not_a_silent_drop() -> None:
    subject = "aide.DemandeAide"
    only_self = _profiles(_profile("region-24", [subject]))
    with pytest.raises(RoutingError) as caught:
        recipients(subject, {"region": "24"}, "region-24", only_self, REFERENCE)
    assert (caught.value.code, caught.value.path) == ("expediteur_seul_destinataire", "region")
    assert "region-24" in caught.value.message and subject in caught.value.message


@pytest.mark.parametrize(
    ("record", "path"),
    [({"regionDestinataire": "24", "idSession": "53:1"}, "regionDestinataire"), ({"idSession": "24:1"}, "idSession")],
)
def test_a_funding_region_sending_to_itself_is_pointed_at_the_field_that_named_it(
    record: dict[str, Any], path: str
) -> None:
    subject = "formation.Positionnement"
    only_self = _profiles(_profile("region-24", [subject]))
    with pytest.raises(RoutingError) as caught:
        recipients(subject, record, "region-24", only_self, REFERENCE)
    assert (caught.value.code, caught.value.path) == ("expediteur_seul_destinataire", path)


def test_an_empty_session_prefix_names_no_funding_region(typed: TypedContracts, profiles: Profiles) -> None:
    assert events.funding_region({"idSession": ":114782", "regionDestinataire": None}) is None
    record = canonical(typed, "formation.Positionnement", idSession=":114782")
    with pytest.raises(RoutingError) as caught:
        recipients("formation.Positionnement", record, "imilo", profiles, REFERENCE)
    assert (caught.value.code, caught.value.path) == ("region_inconnue", "idSession")


# ---- The table, the contracts and the profiles agree -------------------------------------------------------


def test_every_event_has_a_contract_and_every_contract_an_event(catalogue: Catalogue) -> None:
    assert set(events.subjects()) == set(catalogue.subjects)
    assert len(events.subjects()) == len(set(events.subjects()))  # no subject declared twice


def _top_fields(catalogue: Catalogue, subject: str) -> dict[str, Any]:
    return {f["name"]: f for f in catalogue.latest(subject).schema["fields"]}


# Fields each routing rule reads: a contract renaming one would make every event of it unroutable.
ROUTING_FIELDS: dict[Route, tuple[str, ...]] = {
    Route.TO_MISSION_LOCALE: (),
    Route.TO_ML_OF_COMMUNE: ("codeStructure", "jeune"),
    Route.TO_FUNDING_REGION: ("regionDestinataire", "idSession"),
    Route.TO_NAMED_REGION: ("region",),
    Route.TO_BOTH: ("region",),
}


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.subject)
def test_the_contract_carries_the_fields_the_table_names(catalogue: Catalogue, event: events.Event) -> None:
    fields = _top_fields(catalogue, event.subject)
    if event.id_field is not None:
        assert event.id_field in fields
    for name in ROUTING_FIELDS[event.route]:
        assert name in fields, (event.subject, name)
    if event.route is Route.TO_ML_OF_COMMUNE:
        jeune = fields["jeune"]["type"]
        assert "codeInseeCommune" in {f["name"] for f in jeune["fields"]}


# The family each rule delivers to: a profile receiving a subject no rule would ever send it is a dead promise.
DELIVERED_TO: dict[Route, set[str]] = {
    Route.TO_MISSION_LOCALE: {MISSION_LOCALE},
    Route.TO_ML_OF_COMMUNE: {MISSION_LOCALE},
    Route.TO_FUNDING_REGION: {REGION},
    Route.TO_NAMED_REGION: {REGION},
    Route.TO_BOTH: {MISSION_LOCALE, REGION},
}


def test_every_profile_publishes_and_receives_only_what_the_table_allows(profiles: Profiles) -> None:
    checked = 0
    for profile in profiles:
        for subject, publication in profile.publishes.items():
            event = events.BY_SUBJECT[subject]
            assert event.publisher == profile.family, (profile.id, subject)
            assert publication.dialect in event.sent_in, (profile.id, subject)
            checked += 1
        for subject, reception in profile.receives.items():
            event = events.BY_SUBJECT[subject]
            assert profile.family in DELIVERED_TO[event.route], (profile.id, subject)
            assert reception.dialect in event.received_in, (profile.id, subject)
            checked += 1
    assert checked > 40  # the four shipped profiles were all read


def test_every_event_has_a_publisher_and_a_recipient_among_the_profiles(profiles: Profiles) -> None:
    for event in EVENTS:
        receivers = [p.id for p in profiles if event.subject in p.receives]
        assert receivers, event.subject
        publishers = [p.id for p in profiles if event.subject in p.publishes]
        assert bool(publishers) == (event.publisher is not None), event.subject


def test_the_reference_sample_serves_the_communes_the_tests_route() -> None:
    # The routing cases above lean on these rows of the shipped sample.
    assert REFERENCE.structures_for_commune("35238") == ("35238S00",)
    assert REFERENCE.structures_for_commune("29075") == ("29019S00",)
    assert REFERENCE.structures_for_commune("97411") == ()
