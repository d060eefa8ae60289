"""The indicators as Prometheus gauges, read from the state at scrape time (labels: region, quantile)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.indicators.domain import IndicatorState

P = "passerelle_indicateur_"


class IndicatorCollector(Collector):
    def __init__(self, state: Callable[[], IndicatorState]) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self._state().by_region(dt.datetime.now(dt.UTC))
        entry = GaugeMetricFamily(
            P + "delai_positionnement_entree_jours",
            "Délai positionnement → entrée en formation, en jours.",
            labels=["region", "quantile"],
        )
        status = GaugeMetricFamily(
            P + "delai_positionnement_statut_jours",
            "Délai positionnement → premier statut, en jours.",
            labels=["region", "quantile"],
        )
        contact = GaugeMetricFamily(
            P + "delai_signalement_contact_jours",
            "Délai signalement d'un décrocheur → premier contact, en jours.",
            labels=["region", "quantile"],
        )
        entered = GaugeMetricFamily(
            P + "part_positionnements_entres_ratio",
            "Part des positionnements suivis d'une entrée en formation.",
            labels=["region"],
        )
        waiting = GaugeMetricFamily(
            P + "part_liste_attente_ratio", "Part des positionnements mis en liste d'attente.", labels=["region"]
        )
        count = GaugeMetricFamily(P + "positionnements", "Positionnements suivis.", labels=["region"])
        for region, f in figures.items():
            for family, key, quantile in (
                (entry, "delaiPositionnementEntreeJoursMedian", "0.5"),
                (entry, "delaiPositionnementEntreeJoursP90", "0.9"),
                (status, "delaiPositionnementStatutJoursMedian", "0.5"),
                (contact, "delaiSignalementContactJoursMedian", "0.5"),
            ):
                if f[key] is not None:
                    family.add_metric([region, quantile], f[key])
            if f["tauxEntree"] is not None:
                entered.add_metric([region], f["tauxEntree"])
            if f["partListeAttente"] is not None:
                waiting.add_metric([region], f["partListeAttente"])
            count.add_metric([region], f["nbPositionnements"])
        yield from (entry, status, contact, entered, waiting, count)
