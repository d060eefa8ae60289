"""The waiting alerts' decisions, without Kafka: thresholds, answers just in time, replays, alternatives."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest

from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.dialect import Draft
from passerelle.core.partners import DEFAULT_ANSWER_DAYS, DEFAULT_ENTRY_DAYS, Profiles, Waiting
from services.attente.app import thresholds_of
from services.attente.domain import MAX_ALTERNATIVES, SUBJECT, Offer, Step, WaitingState, alert_id
from services.attente.settings import AttenteSettings
from services.region_adapter.dialects.lheo import parse_lheo
from tests.conftest import OWN_LHEO, real_lheo_feeds
from tests.dialect_context import context

D = dt.date
DAY0 = D(2026, 3, 2)
PSEUDO = "b" * 64
POS = "formation.Positionnement"
STATUT = "formation.StatutCandidature"
ENTREE = "formation.EntreeFormation"
OFFRE = "formation.OffreSession"
# What region-24's profile says, so a test reads as the numbers it checks.
ANSWER, ENTRY = 15, 30


def limits(_region: str) -> Waiting:
    return Waiting(answer_max_days=ANSWER, entry_max_days=ENTRY)


def positionnement(pos: str = "P1", day: D = DAY0, session: str = "24:S1", **more: Any) -> tuple[str, dict[str, Any]]:
    record = {
        "idPositionnement": pos,
        "jeune": {"pseudonyme": PSEUDO, "prenom": "Léa"},
        "codeStructure": "37261S00",
        "idSession": session,
        "datePositionnement": day,
        "conseiller": "Camille Martin",
        "courrielConseiller": "c.martin@mission-locale.example",
        **more,
    }
    return POS, record


def statut(statut: str, day: D, pos: str = "P1") -> tuple[str, dict[str, Any]]:
    return STATUT, {"idPositionnement": pos, "pseudonyme": PSEUDO, "statut": statut, "dateStatut": day}


def entree(day: D, pos: str = "P1") -> tuple[str, dict[str, Any]]:
    return ENTREE, {"idPositionnement": pos, "pseudonyme": PSEUDO, "dateEntree": day}


def offer(session: str, start: D | None, formacodes: tuple[str, ...] = ("22403",), **more: Any) -> dict[str, Any]:
    place = {"departement": more.pop("departement", "37"), "ville": "Tours", "region": more.pop("lieu_region", "24")}
    return {
        "idSession": session,
        "region": "24",
        "intitule": f"Session {session}",
        "codesFormacode": list(formacodes),
        "codesRome": list(more.pop("romes", ("F1604",))),
        "dateDebut": start,
        "etatRecrutement": more.pop("etat", "OUVERT"),
        "lieuFormation": place,
        "financeurs": more.pop("financeurs", []),
        **more,
    }


def state_of(*events: tuple[str, dict[str, Any]]) -> WaitingState:
    state = WaitingState()
    for subject, record in events:
        state.apply(subject, record)
    return state


def days(n: int) -> D:
    return DAY0 + dt.timedelta(days=n)


# ---------------------------------------------------------------- thresholds


def test_no_answer_is_reported_once_the_threshold_is_crossed() -> None:
    state = state_of(positionnement())
    assert state.due(days(ANSWER), limits) == []  # exactly the threshold: not longer than it
    [alert] = state.due(days(ANSWER + 1), limits)
    assert alert["etape"] == "REPONSE" and alert["joursAttente"] == ANSWER + 1 and alert["seuilJours"] == ANSWER
    assert alert["attenteDepuis"] == DAY0 and alert["constateLe"] == days(ANSWER + 1)
    assert alert["idAttente"] == alert_id("P1", Step.ANSWER) and alert["region"] == "24"
    assert alert["pseudonyme"] == PSEUDO and alert["codeStructure"] == "37261S00"


def test_an_answer_dated_just_before_the_threshold_prevents_the_alert() -> None:
    state = state_of(positionnement(), statut("RECUE", days(ANSWER)))
    assert state.due(days(ANSWER + 1), limits) == []
    assert state.due(days(ANSWER + 200), limits) == []  # any answer ends the first wait


def test_admitted_without_entry_is_reported_at_the_entry_step() -> None:
    admitted = days(3)
    state = state_of(positionnement(), statut("RECUE", days(1)), statut("ADMIS", admitted))
    assert state.due(admitted + dt.timedelta(days=ENTRY), limits) == []
    [alert] = state.due(admitted + dt.timedelta(days=ENTRY + 4), limits)
    assert alert["etape"] == "ENTREE" and alert["attenteDepuis"] == admitted and alert["joursAttente"] == ENTRY + 4
    assert alert["idAttente"] == alert_id("P1", Step.ENTRY) != alert_id("P1", Step.ANSWER)


def test_an_entry_just_in_time_or_a_refusal_ends_the_wait() -> None:
    late = days(3 + ENTRY + 10)
    entered = state_of(positionnement(), statut("ADMIS", days(3)), entree(days(3 + ENTRY)))
    assert entered.due(late, limits) == []
    for closing in ("REFUSE", "ANNULEE"):
        assert state_of(positionnement(), statut("ADMIS", days(3)), statut(closing, days(5))).due(late, limits) == []
    waiting_list = state_of(positionnement(), statut("LISTE_ATTENTE", days(3)))
    assert waiting_list.due(late, limits) == []  # answered, not admitted: nothing to enter yet


def test_thresholds_are_the_funding_regions_own(profiles: Profiles) -> None:
    of = thresholds_of(profiles)
    assert (of("24").answer_max_days, of("24").entry_max_days) == (15, 30)
    assert (of("84").answer_max_days, of("84").entry_max_days) == (21, 45)
    # A Region whose profile says nothing, or that has no profile, gets the documented defaults.
    assert (of("53").answer_max_days, of("53").entry_max_days) == (DEFAULT_ANSWER_DAYS, DEFAULT_ENTRY_DAYS)
    assert of("93") == Waiting()
    state = state_of(positionnement(pos="A", session="24:1"), positionnement(pos="B", session="84:1"))
    assert [a["idPositionnement"] for a in state.due(days(18), of)] == ["A"]  # 18 > 15 for 24, not > 21 for 84


def test_the_alert_matches_its_contract(codec: AvroCodec) -> None:
    state = state_of(positionnement(), (OFFRE, offer("24:S1", days(90))), (OFFRE, offer("24:S2", days(40))))
    [alert] = state.due(days(ANSWER + 1), limits)
    assert alert["alternatives"] and alert["intituleSession"] == "Session 24:S1"
    assert codec.decode(codec.encode(SUBJECT, alert)).record == alert


# ---------------------------------------------------------------- replays and rebuilds


def test_a_published_wait_is_never_reported_again(codec: AvroCodec) -> None:
    history = [positionnement(), positionnement(pos="P2", day=days(1)), statut("RECUE", days(2), pos="P2")]
    state = state_of(*history)
    published = state.due(days(40), limits)
    assert [a["idPositionnement"] for a in published] == ["P1"]
    state.remember(a["idAttente"] for a in published)
    for subject, record in history:  # a late or replayed event
        state.apply(subject, record)
    assert state.due(days(41), limits) == []
    assert state.due(days(400), limits) == []

    # A rebuild from the start of the topics, in any order, reading its own output topic back: nothing new.
    wire = [codec.encode(SUBJECT, a) for a in published]
    for order in itertools.permutations(history):
        rebuilt = state_of(*order)
        rebuilt.remember(str(codec.decode(v).record["idAttente"]) for v in wire)
        assert rebuilt.due(days(41), limits) == []
    # Without its past output, the same wait keeps the same id: the router's memory of event ids would drop it.
    assert [a["idAttente"] for a in state_of(*reversed(history)).due(days(41), limits)] == [published[0]["idAttente"]]


def test_the_entry_step_is_reported_after_the_answer_step() -> None:
    state = state_of(positionnement())
    first = state.due(days(ANSWER + 1), limits)
    state.remember(a["idAttente"] for a in first)
    state.apply(*statut("ADMIS", days(ANSWER + 2)))
    [second] = state.due(days(ANSWER + 2 + ENTRY + 1), limits)
    assert second["etape"] == "ENTREE" and second["idAttente"] != first[0]["idAttente"]


def test_the_event_clock_is_the_latest_event_date_never_beyond_tomorrow() -> None:
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    state = state_of(positionnement(day=D(2026, 5, 1)), statut("RECUE", D(2026, 5, 20), pos="X"))
    assert state.latest == D(2026, 5, 20)
    assert AttenteSettings(horloge="evenements").today(state.latest, now) == D(2026, 5, 20)
    assert AttenteSettings(horloge="evenements").today(D(2099, 1, 1), now) == D(2026, 6, 2)
    assert AttenteSettings(horloge="evenements").today(None, now) is None
    assert AttenteSettings(horloge="systeme").today(state.latest, now) == D(2026, 6, 1)
    assert AttenteSettings(horloge="2026-07-14").today(state.latest, now) == D(2026, 7, 14)
    with pytest.raises(ValueError, match="horloge attendue"):
        AttenteSettings(horloge="demain")


# ---------------------------------------------------------------- alternatives


def test_alternatives_are_ranked_near_first_then_by_formacode_then_by_start() -> None:
    offers = [
        offer("24:S1", days(120)),  # the awaited session
        offer("24:ROME-37", days(30), formacodes=("99999",)),
        offer("24:FC-45-early", days(20), departement="45"),
        offer("24:FC-37-late", days(60)),
        offer("24:FC-37-early", days(40)),
        offer("24:FC-37-closed", days(25), etat="FERME"),
        offer("24:FC-37-full", days(25), financeurs=[{"codeFinanceur": "2", "nbPlacesFinancees": 0}]),
        offer("24:FC-37-started", days(10)),
        offer("24:FC-37-after", days(130)),
        offer("24:FC-37-undated", None),
        offer("24:other-trade", days(30), formacodes=("11111",), romes=("A1101",)),
        offer("53:FC-other-region", days(30), departement="29", lieu_region="53"),
        offer("24:FC-45-late", days(70), departement="45"),
    ]
    state = state_of(positionnement(), *((OFFRE, o) for o in offers))
    [alert] = state.due(days(ANSWER + 1), limits)
    chosen = [(a["idSession"], a["correspondance"], a["proximite"]) for a in alert["alternatives"]]
    assert chosen == [
        ("24:FC-37-early", "FORMACODE", "DEPARTEMENT"),
        ("24:FC-37-late", "FORMACODE", "DEPARTEMENT"),
        ("24:ROME-37", "ROME", "DEPARTEMENT"),
        ("24:FC-45-early", "FORMACODE", "REGION"),
        ("24:FC-45-late", "FORMACODE", "REGION"),
    ]
    assert len(chosen) == MAX_ALTERNATIVES


def test_an_awaited_session_already_started_or_unknown_takes_any_session_still_ahead() -> None:
    started = state_of(
        positionnement(), (OFFRE, offer("24:S1", days(5))), (OFFRE, offer("24:S9", days(200), formacodes=("1",)))
    )
    assert [a["idSession"] for a in started.due(days(40), limits)[0]["alternatives"]] == ["24:S9"]  # ROME F1604
    unknown = state_of(positionnement(codeRomeVise="F1604"), (OFFRE, offer("24:S9", days(200), formacodes=("1",))))
    [alert] = unknown.due(days(40), limits)
    assert alert["intituleSession"] is None and [a["idSession"] for a in alert["alternatives"]] == ["24:S9"]


def _offers(feeds: list[Path]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for feed in feeds:
        for outcome in parse_lheo(feed.read_bytes(), context("region-24")):
            assert isinstance(outcome, Draft)
            found[outcome.record["idSession"]] = outcome.record
    return found


def test_alternatives_from_the_repository_lheo_feeds() -> None:
    offers = _offers(sorted(OWN_LHEO.glob("*.xml")))
    awaited = next(s for s, r in offers.items() if r["dateDebut"] == "2026-09-06")
    state = state_of(
        *((OFFRE, r) for r in offers.values()),
        positionnement(session=awaited, day=D(2025, 12, 1), codeRomeVise="K2204"),
    )
    [alert] = state.due(D(2026, 1, 10), limits)
    [chosen] = alert["alternatives"]  # the one session sharing its ROME, dated, ahead, before the awaited one
    assert chosen["dateDebut"] == D(2026, 3, 26) and (chosen["correspondance"], chosen["proximite"]) == (
        "ROME",
        "DEPARTEMENT",
    )
    assert chosen["ville"] == "Tours" and chosen["placesFinancees"] == 12


def test_alternatives_from_real_carif_oref_offers() -> None:
    offers = _offers(real_lheo_feeds())
    dated = sorted((Offer.of(r) for r in offers.values() if r["dateDebut"]), key=lambda o: o.start or D.min)
    assert len(dated) >= 2
    for awaited in dated:
        assert awaited.start is not None
        today = awaited.start - dt.timedelta(days=90)
        state = state_of(*((OFFRE, r) for r in offers.values()), positionnement(session=awaited.session, day=today))
        [alert] = state.due(today + dt.timedelta(days=ANSWER + 1), limits)
        for alternative in alert["alternatives"]:
            other = Offer.of(offers[alternative["idSession"]])
            assert other.open and other.start is not None
            assert today + dt.timedelta(days=ANSWER + 1) <= other.start < awaited.start
            shared = other.formacodes & awaited.formacodes if alternative["correspondance"] == "FORMACODE" else None
            assert shared or other.romes & awaited.romes
            assert other.department == awaited.department or other.region == awaited.region
    # The Centre-Val de Loire feed: the December session's young person is offered the October one.
    latest = dated[-1]
    state = state_of(*((OFFRE, r) for r in offers.values()), positionnement(session=latest.session, day=D(2017, 8, 1)))
    [alert] = state.due(D(2017, 9, 1), limits)
    assert latest.start is not None and alert["alternatives"]
    assert all(a["dateDebut"] < latest.start for a in alert["alternatives"])
    assert alert["alternatives"][0]["correspondance"] == "FORMACODE"
