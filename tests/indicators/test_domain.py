"""Indicators from hand-built histories with known answers; order and duplicates do not matter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from passerelle.core.contracts.typed import TypedContracts
from services.indicators.domain import IndicatorState
from services.indicators.metrics import IndicatorCollector

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
D = dt.date


def _history() -> list[tuple[str, dict[str, Any]]]:
    pos = "formation.Positionnement"
    return [
        (pos, {"idPositionnement": "A", "idSession": "24:1", "datePositionnement": D(2026, 3, 2)}),
        (pos, {"idPositionnement": "B", "idSession": "24:2", "datePositionnement": D(2026, 3, 10)}),
        (
            pos,
            {
                "idPositionnement": "C",
                "idSession": "24:3",
                "regionDestinataire": "24",
                "datePositionnement": D(2026, 3, 20),
            },
        ),
        ("formation.StatutCandidature", {"idPositionnement": "A", "statut": "RECUE", "dateStatut": D(2026, 3, 5)}),
        ("formation.StatutCandidature", {"idPositionnement": "A", "statut": "ADMIS", "dateStatut": D(2026, 3, 12)}),
        (
            "formation.StatutCandidature",
            {"idPositionnement": "B", "statut": "LISTE_ATTENTE", "dateStatut": D(2026, 3, 20)},
        ),
        ("formation.EntreeFormation", {"idPositionnement": "A", "dateEntree": D(2026, 4, 1)}),
        ("formation.EntreeFormation", {"idPositionnement": "B", "dateEntree": D(2026, 4, 19)}),
        ("reperage.SignalementDecrochage", {"idSignalement": "S1", "region": "24", "dateSignalement": D(2026, 3, 1)}),
        ("reperage.SuiteSignalement", {"idSignalement": "S1", "suite": "INJOIGNABLE", "dateSuite": D(2026, 3, 2)}),
        ("reperage.SuiteSignalement", {"idSignalement": "S1", "suite": "CONTACTE", "dateSuite": D(2026, 3, 8)}),
        ("reperage.SignalementDecrochage", {"idSignalement": "S2", "region": "24", "dateSignalement": D(2026, 3, 3)}),
    ]


def _snapshot(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    state = IndicatorState()
    for subject, record in events:
        state.apply(subject, record)
    return state.snapshot(NOW)


def test_known_answers(typed: TypedContracts) -> None:
    [march] = _snapshot(_history())
    assert march["region"] == "24" and march["mois"] == "2026-03"
    assert (march["nbPositionnements"], march["nbEntrees"]) == (3, 2)
    assert march["tauxEntree"] == 2 / 3
    assert march["partListeAttente"] == 1 / 3
    assert march["delaiPositionnementStatutJoursMedian"] == 6.5  # A: 3 days, B: 10 days
    assert march["delaiPositionnementEntreeJoursMedian"] == 35.0  # A: 30, B: 40
    assert march["delaiPositionnementEntreeJoursP90"] == 40.0
    assert (march["nbSignalements"], march["nbSignalementsContactes"]) == (2, 1)
    assert march["delaiSignalementContactJoursMedian"] == 7.0  # unreachable first, contacted 7 days later
    typed.validate("pilotage.Indicateurs", march)


@settings(max_examples=40, deadline=None)
@given(st.permutations(_history()), st.lists(st.integers(0, 11), max_size=6))
def test_any_order_and_any_duplicates_give_the_same_figures(order: list[Any], repeats: list[int]) -> None:
    history = _history()
    shuffled = list(order) + [history[i] for i in repeats]
    assert _snapshot(shuffled) == _snapshot(history)


def test_prune_forgets_old_entries() -> None:
    state = IndicatorState()
    for subject, record in _history():
        state.apply(subject, record)
    assert state.prune(D(2026, 3, 15)) == 4  # A, B, S1, S2
    assert [s["nbPositionnements"] for s in state.snapshot(NOW)] == [1]


def test_collector_exposes_the_indicators_per_region() -> None:
    state = IndicatorState()
    for subject, record in _history():
        state.apply(subject, record)
    registry = CollectorRegistry()
    registry.register(IndicatorCollector(lambda: state))
    text = generate_latest(registry).decode()
    assert 'passerelle_indicateur_delai_positionnement_entree_jours{quantile="0.5",region="24"} 35.0' in text
    assert 'passerelle_indicateur_part_positionnements_entres_ratio{region="24"} 0.666' in text
    assert 'passerelle_indicateur_positionnements{region="24"} 3.0' in text
