"""The agreement's indicators, from canonical events: pure state, no I/O.

Per region and month (of the positionnement, or of the signalement):
delay positionnement → first statut and → entrée (median, 90th percentile),
share of positionnements that reach an entry, share put on a waiting list,
and for dropouts the delay from signalement to first contact.

Every update is a minimum, a flag or a set-once value, so applying an event
twice, or events in any order (a statut seen before its positionnement),
gives the same state. That is what lets the service rebuild its state by
replaying the canonical topics (kept 400 days) at each start, with no store
of its own to back up.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from passerelle.core import events
from passerelle.core.opendata import RowFigures, Statistic

# A first answer from the Mission Locale counts as contact unless it says the person could not be reached.
NOT_CONTACTED = frozenset({"INJOIGNABLE", "COORDONNEES_INCORRECTES", "INCONNU"})
FOLLOWED = events.followed_by_indicators()


@dataclass
class _Application:
    region: str | None = None
    positioned: dt.date | None = None
    first_status: dt.date | None = None
    entered: dt.date | None = None
    waiting_list: bool = False


@dataclass
class _Signal:
    region: str | None = None
    signalled: dt.date | None = None
    contacted: dt.date | None = None


def _earliest(current: dt.date | None, new: dt.date | None) -> dt.date | None:
    if new is None:
        return current
    return new if current is None or new < current else current


@dataclass
class IndicatorState:
    applications: dict[str, _Application] = field(default_factory=dict)
    signals: dict[str, _Signal] = field(default_factory=dict)

    def apply(self, subject: str, record: Mapping[str, Any]) -> None:
        if subject.startswith("formation."):
            key = str(record.get("idPositionnement"))
            app = self.applications.setdefault(key, _Application())
            if subject == "formation.Positionnement":
                app.region = events.funding_region(record)
                app.positioned = _earliest(app.positioned, record.get("datePositionnement"))
            elif subject == "formation.StatutCandidature":
                app.first_status = _earliest(app.first_status, record.get("dateStatut"))
                app.waiting_list = app.waiting_list or record.get("statut") == "LISTE_ATTENTE"
            elif subject == "formation.EntreeFormation":
                app.entered = _earliest(app.entered, record.get("dateEntree"))
        elif subject.startswith("reperage."):
            signal = self.signals.setdefault(str(record.get("idSignalement")), _Signal())
            if subject == "reperage.SignalementDecrochage":
                signal.region = str(record.get("region"))
                signal.signalled = _earliest(signal.signalled, record.get("dateSignalement"))
            elif subject == "reperage.SuiteSignalement" and record.get("suite") not in NOT_CONTACTED:
                signal.contacted = _earliest(signal.contacted, record.get("dateSuite"))

    def snapshot(self, computed_at: dt.datetime) -> list[dict[str, Any]]:
        """One ``pilotage.Indicateurs`` record per region and month that has any data."""
        groups: dict[tuple[str, str], tuple[list[_Application], list[_Signal]]] = {}
        for app in self.applications.values():
            if app.region and app.positioned:
                groups.setdefault((app.region, _month(app.positioned)), ([], []))[0].append(app)
        for sig in self.signals.values():
            if sig.region and sig.signalled:
                groups.setdefault((sig.region, _month(sig.signalled)), ([], []))[1].append(sig)
        return [
            _indicators(region, month, apps, sigs, computed_at)
            for (region, month), (apps, sigs) in sorted(groups.items())
        ]

    def by_region(self, computed_at: dt.datetime) -> dict[str, dict[str, Any]]:
        """The same indicators over every month kept, per region (what the metrics show)."""
        apps: dict[str, list[_Application]] = {}
        sigs: dict[str, list[_Signal]] = {}
        for app in self.applications.values():
            if app.region and app.positioned:
                apps.setdefault(app.region, []).append(app)
        for sig in self.signals.values():
            if sig.region and sig.signalled:
                sigs.setdefault(sig.region, []).append(sig)
        regions = sorted(set(apps) | set(sigs))
        return {r: _indicators(r, "", apps.get(r, []), sigs.get(r, []), computed_at) for r in regions}

    def months(self) -> list[str]:
        """Every month (AAAA-MM) that has a positionnement or a signalement with its region."""
        found = {_month(a.positioned) for a in self.applications.values() if a.region and a.positioned}
        found |= {_month(s.signalled) for s in self.signals.values() if s.region and s.signalled}
        return sorted(found)

    def month_figures(self, month: str) -> tuple[dict[str, RowFigures], RowFigures]:
        """The month's figures per region and for all regions together, each delay with its sample size
        (what the open-data secrecy rule needs and ``pilotage.Indicateurs`` does not carry)."""
        apps: dict[str, list[_Application]] = {}
        sigs: dict[str, list[_Signal]] = {}
        for app in self.applications.values():
            if app.region and app.positioned and _month(app.positioned) == month:
                apps.setdefault(app.region, []).append(app)
        for sig in self.signals.values():
            if sig.region and sig.signalled and _month(sig.signalled) == month:
                sigs.setdefault(sig.region, []).append(sig)
        regions = sorted(set(apps) | set(sigs))
        every_app = [a for r in regions for a in apps.get(r, [])]
        every_sig = [s for r in regions for s in sigs.get(r, [])]
        return {r: _figures(apps.get(r, []), sigs.get(r, [])) for r in regions}, _figures(every_app, every_sig)

    def prune(self, before: dt.date) -> int:
        """Forget applications and signals older than ``before`` (the canonical topics' retention)."""
        old_apps = [k for k, a in self.applications.items() if a.positioned and a.positioned < before]
        old_sigs = [k for k, s in self.signals.items() if s.signalled and s.signalled < before]
        for k in old_apps:
            del self.applications[k]
        for k in old_sigs:
            del self.signals[k]
        return len(old_apps) + len(old_sigs)


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _days(pairs: Iterable[tuple[dt.date | None, dt.date | None]]) -> list[float]:
    return [float((end - start).days) for start, end in pairs if start and end and end >= start]


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _figures(apps: list[_Application], sigs: list[_Signal]) -> RowFigures:
    to_status = _days((a.positioned, a.first_status) for a in apps)
    to_entry = _days((a.positioned, a.entered) for a in apps)
    to_contact = _days((s.signalled, s.contacted) for s in sigs)
    return RowFigures(
        positionnements=len(apps),
        entrees=sum(1 for a in apps if a.entered),
        liste_attente=sum(1 for a in apps if a.waiting_list),
        signalements=len(sigs),
        contactes=sum(1 for s in sigs if s.contacted),
        delays={
            "delai_positionnement_statut_median": Statistic(_median(to_status), len(to_status)),
            "delai_positionnement_entree_median": Statistic(_median(to_entry), len(to_entry)),
            "delai_positionnement_entree_p90": Statistic(_p90(to_entry), len(to_entry)),
            "delai_signalement_contact_median": Statistic(_median(to_contact), len(to_contact)),
        },
    )


def _indicators(
    region: str, month: str, apps: list[_Application], sigs: list[_Signal], computed_at: dt.datetime
) -> dict[str, Any]:
    to_status = _days((a.positioned, a.first_status) for a in apps)
    to_entry = _days((a.positioned, a.entered) for a in apps)
    entries = sum(1 for a in apps if a.entered)
    to_contact = _days((s.signalled, s.contacted) for s in sigs)
    return {
        "region": region,
        "mois": month,
        "nbPositionnements": len(apps),
        "nbEntrees": entries,
        "tauxEntree": entries / len(apps) if apps else None,
        "partListeAttente": sum(1 for a in apps if a.waiting_list) / len(apps) if apps else None,
        "delaiPositionnementStatutJoursMedian": _median(to_status),
        "delaiPositionnementEntreeJoursMedian": _median(to_entry),
        "delaiPositionnementEntreeJoursP90": _p90(to_entry),
        "nbSignalements": len(sigs),
        "nbSignalementsContactes": sum(1 for s in sigs if s.contacted),
        "delaiSignalementContactJoursMedian": _median(to_contact),
        "calculeLe": computed_at,
    }
