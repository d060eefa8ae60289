"""Who receives a canonical event, from the design brief's table and the reference data.

Pure: an event in, the partners to deliver to (and the record, enriched when
routing needs to fill something in) out, or a :class:`RoutingError` that the
runtime sends to the DLQ and back to the sender. Never a silent drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from passerelle.core.partners import Profiles
from passerelle.core.reference import ReferenceData

ML = "imilo"


class RoutingError(Exception):
    def __init__(self, code: str, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path


@dataclass(frozen=True)
class Route:
    partners: tuple[str, ...]
    record: dict[str, Any]


def recipients(
    subject: str, record: dict[str, Any], sender: str, profiles: Profiles, reference: ReferenceData
) -> Route:
    enriched = record
    if subject in (
        "formation.OffreSession",
        "formation.StatutCandidature",
        "formation.EntreeFormation",
        "formation.SortieFormation",
        "aide.DecisionAide",
        "orientation.EvenementOrientation",
    ):
        targets: tuple[str, ...] = (ML,)
    elif subject == "formation.Positionnement":
        targets = (_region_partner(_funding_region(record), "regionDestinataire"),)
    elif subject == "reperage.SignalementDecrochage":
        enriched = _with_structure(record, reference)
        targets = (ML,)
    elif subject in ("reperage.SuiteSignalement", "aide.DemandeAide"):
        targets = (_region_partner(record.get("region"), "region"),)
    elif subject == "pilotage.Indicateurs":
        targets = (ML, _region_partner(record.get("region"), "region"))
    else:
        raise RoutingError("evenement_inconnu", f"aucune règle de routage pour {subject}")
    subscribed = tuple(t for t in targets if _receives(profiles, t, subject))
    if not subscribed:
        raise RoutingError(
            "non_abonne",
            f"aucun destinataire abonné à {subject} parmi : {', '.join(targets)} (voir les profils des partenaires)",
        )
    if subject != "pilotage.Indicateurs" and sender in subscribed and sender != ML:
        subscribed = tuple(t for t in subscribed if t != sender)
    return Route(subscribed, enriched)


def _funding_region(record: Mapping[str, Any]) -> str | None:
    """The Region funding the session: explicit, else the ``<region>:`` prefix of the session id."""
    explicit = record.get("regionDestinataire")
    if explicit:
        return str(explicit)
    session = str(record.get("idSession") or "")
    prefix, sep, _ = session.partition(":")
    if not sep:
        raise RoutingError(
            "region_inconnue",
            "région financeuse introuvable : renseignez regionDestinataire ou un idSession « <région>:<numéro> »",
            "idSession",
        )
    return prefix


def _region_partner(region: Any, path: str) -> str:
    if not region:
        raise RoutingError("region_inconnue", "région destinataire absente", path)
    return f"region-{region}"


def _receives(profiles: Profiles, partner: str, subject: str) -> bool:
    profile = profiles.get(partner)
    return profile is not None and subject in profile.recoit


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
