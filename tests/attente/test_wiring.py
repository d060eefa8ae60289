"""The waiting-alert service as deployed: its own principal with the rights its hop needs, its event routed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from passerelle.broker import topics
from passerelle.broker.acl import Operation, Resource, principal
from passerelle.core import events
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.partners import PartnerProfile, ProfileError, Profiles, load_profile
from passerelle.core.reference import load_reference
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.deployables import SERVICES, hop_spec_of
from passerelle.stack.rights import principals, service_specs, wanted_grants
from services.attente.domain import FOLLOWED, SUBJECT
from services.router.recipients import recipients

EXAMPLE = PROJECT_ROOT / "contracts" / "examples" / SUBJECT / "valid" / "complet.json"


def test_the_service_is_deployable_and_follows_what_the_events_table_says() -> None:
    assert "attente" in SERVICES and "attente" in principals(["imilo"])
    spec = hop_spec_of("attente", Settings())
    assert set(FOLLOWED) == {
        "formation.OffreSession",
        "formation.Positionnement",
        "formation.StatutCandidature",
        "formation.EntreeFormation",
    }
    assert list(spec.inputs) == [topics.canonical(s) for s in FOLLOWED]
    assert list(spec.outputs) == [topics.canonical(SUBJECT)]


def test_its_rights_are_its_hops_and_nothing_more(profiles: Profiles) -> None:
    wanted = wanted_grants(profiles.ids, service_specs(Settings()))
    own = {g for g in wanted if g.principal == principal("attente")}
    topics_of = {
        op: {g.name for g in own if g.resource is Resource.TOPIC and g.operation is op}
        for op in (Operation.READ, Operation.WRITE)
    }
    assert topics_of[Operation.WRITE] == {topics.canonical(SUBJECT), topics.PROBE_TOPIC}
    assert topics_of[Operation.READ] == {
        *(topics.canonical(s) for s in FOLLOWED),
        topics.canonical(SUBJECT),  # its own alerts, read back at start
        topics.PROBE_TOPIC,
    }
    groups = {g.name for g in own if g.resource is Resource.GROUP}
    assert "passerelle.attente" in groups


def _alert(typed: TypedContracts, **overrides: Any) -> dict[str, Any]:
    raw = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return typed.validate(SUBJECT, {**raw, **overrides})


@pytest.mark.parametrize(
    ("region", "expected"),
    [("24", ("imilo", "region-24")), ("84", ("imilo", "region-84")), ("53", ("imilo",))],
    ids=["json-24", "json-84", "csv-53-non-abonnee"],
)
def test_the_alert_goes_to_the_mission_locale_and_the_funding_region(
    typed: TypedContracts, profiles: Profiles, region: str, expected: tuple[str, ...]
) -> None:
    # region-53 receives in CSV, a dialect that does not carry the alert: I-MILO alone gets it.
    route = recipients(SUBJECT, _alert(typed, region=region), "passerelle", profiles, load_reference())
    assert route.partners == expected
    assert events.event(SUBJECT) is not None and events.event(SUBJECT).publisher is None  # type: ignore[union-attr]


def test_the_thresholds_section_speaks_french_and_refuses_what_it_does_not_know(tmp_path: Any) -> None:
    base = {"id": "region-24", "nom": "Centre", "famille": "region", "region": "24"}
    profile = PartnerProfile.model_validate({**base, "attente": {"reponse_max_jours": 10, "entree_max_jours": 20}})
    assert (profile.waiting.answer_max_days, profile.waiting.entry_max_days) == (10, 20)
    for wrong, message in (({"reponse_max_jour": 10}, "champ inconnu"), ({"entree_max_jours": 0}, "attente")):
        path = tmp_path / "region-24.yaml"
        path.write_text(json.dumps({**base, "attente": wrong}), encoding="utf-8")
        with pytest.raises(ProfileError, match=message):
            load_profile(path)


def test_each_event_passerelle_publishes_names_the_service_whose_hop_writes_it() -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x")
    own = [e for e in events.EVENTS if e.publisher is None]
    assert {e.subject for e in own} >= {SUBJECT, events.INDICATORS_SUBJECT}
    for event in own:
        assert event.service in SERVICES, event
        spec = hop_spec_of(event.service, settings)
        assert topics.canonical(event.subject) in (*spec.outputs, *spec.publishes), event
    assert all(e.service is None for e in events.EVENTS if e.publisher is not None)
