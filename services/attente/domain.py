"""Waits between a positionnement and its answer, then its entry: pure state, no I/O.

The state follows every positionnement (``formation.Positionnement``) until its
first answer (``formation.StatutCandidature``) and, once admitted, its entry
(``formation.EntreeFormation``), and keeps the sessions the Regions' LHEO feeds
publish (``formation.OffreSession``). Every update is a minimum, a flag or a
last-write of an offer, so applying an event twice or out of order gives the same
state: the service rebuilds it by replaying the canonical topics at start.

``due`` lists the waits longer than the funding Region's thresholds on a given
day that were not reported yet, each as a ``formation.AttenteProlongee`` record
whose id derives from (positionnement, step) alone; ``remember`` takes the ids
already published (the service's own output topic), so a replay never reports
the same wait twice. How alternatives are chosen: docs/attente.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from passerelle.core import events
from passerelle.core.partners import Waiting
from passerelle.runtime.messages import derived_id

SUBJECT = "formation.AttenteProlongee"
FOLLOWED = events.followed_by_attente()
MAX_ALTERNATIVES = 5
# An answer that ends the application: nothing more to wait for.
CLOSING = frozenset({"REFUSE", "ANNULEE"})
# The dates that move the event-time clock (an offer's dates are plans, not events).
_EVENT_DATES = {
    "formation.Positionnement": "datePositionnement",
    "formation.StatutCandidature": "dateStatut",
    "formation.EntreeFormation": "dateEntree",
}


class Step(str, Enum):
    ANSWER = "REPONSE"
    ENTRY = "ENTREE"


def alert_id(positionnement: str, step: Step) -> str:
    """The alert's id and event id: the same wait always gets the same one."""
    return derived_id(SUBJECT, positionnement, step.value)


@dataclass
class _Application:
    pseudonym: str | None = None
    structure: str | None = None
    session: str | None = None
    region: str | None = None
    rome: str | None = None
    counsellor: str | None = None
    counsellor_email: str | None = None
    positioned: dt.date | None = None
    answered: dt.date | None = None
    admitted: dt.date | None = None
    entered: dt.date | None = None
    closed: bool = False


@dataclass(frozen=True)
class Offer:
    """What the alternatives need of a ``formation.OffreSession``."""

    session: str
    title: str
    region: str
    department: str | None
    town: str | None
    start: dt.date | None
    formacodes: frozenset[str]
    romes: frozenset[str]
    open: bool
    places: int | None
    url: str | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Offer:
        place = record.get("lieuFormation") or {}
        funded = [f.get("nbPlacesFinancees") for f in record.get("financeurs") or ()]
        places = sum(p for p in funded if p is not None) if any(p is not None for p in funded) else None
        return cls(
            session=str(record["idSession"]),
            title=str(record.get("intitule") or ""),
            region=str(place.get("region") or record.get("region")),
            department=place.get("departement") or _department(place.get("codePostal")),
            town=place.get("ville"),
            start=_day(record.get("dateDebut")),
            formacodes=frozenset(record.get("codesFormacode") or ()),
            romes=frozenset(record.get("codesRome") or ()),
            # Places open: recruitment declared open, and not zero places when the feed counts them.
            open=record.get("etatRecrutement") == "OUVERT" and places != 0,
            places=places,
            url=record.get("urlSession"),
        )


def _day(value: Any) -> dt.date | None:
    """A date as the codec decodes it, or as a translated draft holds it (ISO text)."""
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def _department(postcode: str | None) -> str | None:
    """Département from a postcode when the feed gives no département (overseas: three digits)."""
    if not postcode or len(postcode) != 5:
        return None
    return postcode[:3] if postcode.startswith("97") else postcode[:2]


def _earliest(current: dt.date | None, new: dt.date | None) -> dt.date | None:
    if new is None:
        return current
    return new if current is None or new < current else current


@dataclass
class WaitingState:
    applications: dict[str, _Application] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    # Ids of the alerts already published: read back from the output topic at start, added as they are published.
    reported: set[str] = field(default_factory=set)
    # The latest event date seen: the default clock (event time).
    latest: dt.date | None = None

    def apply(self, subject: str, record: Mapping[str, Any]) -> None:
        if subject == "formation.OffreSession":
            self.offers[str(record["idSession"])] = Offer.of(record)
            return
        if subject not in _EVENT_DATES:
            return
        day = _day(record.get(_EVENT_DATES[subject]))
        if day is not None:
            self.latest = day if self.latest is None or day > self.latest else self.latest
        app = self.applications.setdefault(str(record.get("idPositionnement")), _Application())
        app.session = app.session or record.get("idSession")
        app.structure = app.structure or record.get("codeStructure")
        if subject == "formation.Positionnement":
            person = record.get("jeune") or {}
            app.pseudonym = person.get("pseudonyme") or app.pseudonym
            app.region = events.funding_region(record)
            app.rome = record.get("codeRomeVise")
            app.counsellor = record.get("conseiller")
            app.counsellor_email = record.get("courrielConseiller")
            app.positioned = _earliest(app.positioned, day)
        elif subject == "formation.StatutCandidature":
            app.pseudonym = app.pseudonym or record.get("pseudonyme")
            app.answered = _earliest(app.answered, day)
            if record.get("statut") == "ADMIS":
                app.admitted = _earliest(app.admitted, day)
            app.closed = app.closed or record.get("statut") in CLOSING
        else:
            app.pseudonym = app.pseudonym or record.get("pseudonyme")
            app.entered = _earliest(app.entered, day)

    def remember(self, alert_ids: Iterable[str]) -> None:
        self.reported.update(alert_ids)

    def due(self, today: dt.date, thresholds: Callable[[str], Waiting]) -> list[dict[str, Any]]:
        """The ``formation.AttenteProlongee`` records of every wait longer than its threshold on ``today``,
        not reported yet, in positionnement order."""
        out: list[dict[str, Any]] = []
        for key in sorted(self.applications):
            app = self.applications[key]
            if app.closed or app.positioned is None or not (app.pseudonym and app.structure and app.region):
                continue
            limits = thresholds(app.region)
            if app.answered is None:
                wait = (Step.ANSWER, app.positioned, limits.answer_max_days)
            elif app.admitted is not None and app.entered is None:
                wait = (Step.ENTRY, app.admitted, limits.entry_max_days)
            else:
                continue
            step, since, limit = wait
            days = (today - since).days
            if days <= limit or alert_id(key, step) in self.reported:
                continue
            out.append(self._record(key, app, step, since, today, days, limit))
        return out

    def _record(
        self, key: str, app: _Application, step: Step, since: dt.date, today: dt.date, days: int, limit: int
    ) -> dict[str, Any]:
        target = self.offers.get(app.session or "")
        return {
            "idAttente": alert_id(key, step),
            "idPositionnement": key,
            "pseudonyme": app.pseudonym,
            "codeStructure": app.structure,
            "idSession": app.session,
            "intituleSession": target.title if target else None,
            "region": app.region,
            "etape": step.value,
            "attenteDepuis": since,
            "constateLe": today,
            "joursAttente": days,
            "seuilJours": limit,
            "conseiller": app.counsellor,
            "courrielConseiller": app.counsellor_email,
            "alternatives": [_alternative(o, why) for o, why in self.alternatives(app, today)],
        }

    def alternatives(self, app: _Application, today: dt.date) -> list[tuple[Offer, tuple[str, str]]]:
        """Up to five open sessions sharing a FORMACODE (else a ROME) with the awaited one, in its département
        (else its region), starting from ``today`` and before the awaited session when that one is still ahead."""
        target = self.offers.get(app.session or "")
        formacodes = target.formacodes if target else frozenset()
        romes = (target.romes if target else frozenset()) | ({app.rome} if app.rome else set())
        department = target.department if target else None
        region = target.region if target else app.region
        before = target.start if target and target.start and target.start > today else None
        found: list[tuple[tuple[bool, bool, dt.date, str], Offer, tuple[str, str]]] = []
        for offer in self.offers.values():
            if offer.session == app.session or not offer.open or offer.start is None or offer.start < today:
                continue
            if before is not None and offer.start >= before:
                continue
            match = "FORMACODE" if formacodes & offer.formacodes else "ROME" if romes & offer.romes else None
            near = (
                "DEPARTEMENT"
                if department and offer.department == department
                else "REGION"
                if region and offer.region == region
                else None
            )
            if match and near:
                rank = (near != "DEPARTEMENT", match != "FORMACODE", offer.start, offer.session)
                found.append((rank, offer, (match, near)))
        found.sort(key=lambda item: item[0])
        return [(offer, why) for _, offer, why in found[:MAX_ALTERNATIVES]]


def _alternative(offer: Offer, why: tuple[str, str]) -> dict[str, Any]:
    return {
        "idSession": offer.session,
        "intitule": offer.title,
        "region": offer.region,
        "departement": offer.department,
        "ville": offer.town,
        "dateDebut": offer.start,
        "correspondance": why[0],
        "proximite": why[1],
        "placesFinancees": offer.places,
        "urlSession": offer.url,
    }
