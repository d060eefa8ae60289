"""Who receives a canonical event, from the routing rule of the events table and the reference data.

Pure: an event in, the partners to deliver to (and the record, enriched when
routing needs to fill something in) out, or a :class:`RoutingError` that the
runtime sends to the DLQ and back to the sender. Never a silent drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from passerelle.core import events
from passerelle.core.events import ML_PARTNER as ML
from passerelle.core.events import Route as Rule
from passerelle.core.partners import Profiles
from passerelle.core.reference import ReferenceData


class RoutingError(Exception):
    def __init__(self, code: str, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path


class Route(NamedTuple):
    partners: tuple[str, ...]
    record: dict[str, Any]


def recipients(
    subject: str, record: dict[str, Any], sender: str, profiles: Profiles, reference: ReferenceData
) -> Route:
    declared = events.event(subject)
    if declared is None:
        raise RoutingError("evenement_inconnu", f"aucune règle de routage pour {subject}")
    enriched = record
    rule = declared.route
    if rule is Rule.TO_MISSION_LOCALE:
        targets: tuple[str, ...] = (ML,)
    elif rule is Rule.TO_ML_OF_COMMUNE:
        enriched = _with_structure(record, reference)
        targets = (ML,)
    elif rule is Rule.TO_FUNDING_REGION:
        targets = (_region_partner(_funding_region(record), "regionDestinataire"),)
    elif rule is Rule.TO_NAMED_REGION:
        targets = (_region_partner(record.get("region"), "region"),)
    else:
        targets = (ML, _region_partner(record.get("region"), "region"))
    subscribed = tuple(t for t in targets if _receives(profiles, t, subject))
    if not subscribed:
        raise RoutingError(
            "non_abonne",
            f"aucun destinataire abonné à {subject} parmi : {', '.join(targets)} (voir les profils des partenaires)",
        )
    # A Region is not sent back what it published; aggregates go to every party they concern.
    if rule is not Rule.TO_BOTH and sender in subscribed and sender != ML:
        subscribed = tuple(t for t in subscribed if t != sender)
        if not subscribed:
            raise RoutingError(
                "expediteur_seul_destinataire",
                f"le seul destinataire abonné à {subject} est son expéditeur {sender}, à qui un événement "
                "n'est pas renvoyé : vérifiez la région indiquée (voir les profils des partenaires)",
                _region_field(rule, record),
            )
    return Route(subscribed, enriched)


def _region_field(rule: Rule, record: Mapping[str, Any]) -> str:
    """The field that named the Region, for the sender to correct."""
    if rule is Rule.TO_FUNDING_REGION:
        return "regionDestinataire" if record.get("regionDestinataire") else "idSession"
    return "region"


def _funding_region(record: Mapping[str, Any]) -> str:
    region = events.funding_region(record)
    if region is None:
        raise RoutingError(
            "region_inconnue",
            "région financeuse introuvable : renseignez regionDestinataire ou un idSession « <région>:<numéro> »",
            "idSession",
        )
    return region


def _region_partner(region: Any, path: str) -> str:
    if not region:
        raise RoutingError("region_inconnue", "région destinataire absente", path)
    return f"region-{region}"


def _receives(profiles: Profiles, partner: str, subject: str) -> bool:
    profile = profiles.get(partner)
    return profile is not None and subject in profile.receives


def _with_structure(record: dict[str, Any], reference: ReferenceData) -> dict[str, Any]:
    """A dropout goes to the Mission Locale serving the young person's commune."""
    if record.get("codeStructure"):
        return record
    person = record.get("jeune") or {}
    commune = person.get("codeInseeCommune")
    if not commune:
        raise RoutingError(
            "commune_absente",
            "commune du jeune absente : impossible de choisir la Mission Locale (ou renseignez codeStructure)",
            "jeune.codeInseeCommune",
        )
    structures = reference.structures_for_commune(str(commune))
    if not structures:
        raise RoutingError(
            "commune_sans_mission_locale",
            f"aucune Mission Locale connue pour la commune {commune} dans le référentiel",
            "jeune.codeInseeCommune",
        )
    return {**record, "codeStructure": structures[0]}
