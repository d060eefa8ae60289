"""The canonical events, declared once: who publishes and receives each, its id field, its routing rule.

Every other module reads this table: the partner profiles check against it,
the adapters take their id fields from it, the router its rules, the
indicators service the events it follows. Adding an event is a row here and
its contract in ``schemas/avro/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

Family = Literal["mission_locale", "region"]
MISSION_LOCALE: Family = "mission_locale"
REGION: Family = "region"
ML_PARTNER = "imilo"


class Dialect(str, Enum):
    IMILO_JSON = "imilo-json"
    LHEO_XML = "lheo-xml"
    REGION_JSON = "region-json"
    REGION_CSV = "region-csv"


class Route(str, Enum):
    """How the router finds an event's recipients."""

    TO_MISSION_LOCALE = "to_mission_locale"  # I-MILO, for the structure the record names
    TO_ML_OF_COMMUNE = "to_ml_of_commune"  # I-MILO, structure looked up from the young person's commune
    TO_FUNDING_REGION = "to_funding_region"  # regionDestinataire, else the session id's region prefix
    TO_NAMED_REGION = "to_named_region"  # the record's ``region`` field
    TO_BOTH = "to_both"  # I-MILO and the record's ``region`` (aggregates; Passerelle's waiting alerts)


_REGION_DIALECTS = (Dialect.REGION_JSON, Dialect.REGION_CSV)


@dataclass(frozen=True, slots=True)
class Event:
    subject: str
    # The family whose partners publish it; None when Passerelle itself does.
    publisher: Family | None
    route: Route
    # The sender's own id for the item (the field of the canonical record), from which event ids derive.
    id_field: str | None
    # Dialects a publisher may send it in, and dialects a recipient may receive it in.
    sent_in: tuple[Dialect, ...]
    received_in: tuple[Dialect, ...]
    # Whether the indicators service follows it.
    indicators: bool = False
    # The record's field naming the Region that publishes it: a claim of origin, checked against the sender.
    origin_field: str | None = None
    # Whether the waiting-alert service (services/attente) follows it.
    waits: bool = False
    # For Passerelle's own events (no publishing family): the service that publishes them.
    service: str | None = None


EVENTS: tuple[Event, ...] = (
    Event(
        "formation.OffreSession",
        REGION,
        Route.TO_MISSION_LOCALE,
        "idSession",
        (Dialect.LHEO_XML,),
        (Dialect.IMILO_JSON,),
        origin_field="region",
        waits=True,
    ),
    Event(
        "formation.Positionnement",
        MISSION_LOCALE,
        Route.TO_FUNDING_REGION,
        "idPositionnement",
        (Dialect.IMILO_JSON,),
        _REGION_DIALECTS,
        indicators=True,
        waits=True,
    ),
    Event(
        "formation.StatutCandidature",
        REGION,
        Route.TO_MISSION_LOCALE,
        "idPositionnement",
        _REGION_DIALECTS,
        (Dialect.IMILO_JSON,),
        indicators=True,
        waits=True,
    ),
    Event(
        "formation.EntreeFormation",
        REGION,
        Route.TO_MISSION_LOCALE,
        "idPositionnement",
        _REGION_DIALECTS,
        (Dialect.IMILO_JSON,),
        indicators=True,
        waits=True,
    ),
    Event(
        "formation.SortieFormation",
        REGION,
        Route.TO_MISSION_LOCALE,
        "idPositionnement",
        _REGION_DIALECTS,
        (Dialect.IMILO_JSON,),
    ),
    Event(
        "reperage.SignalementDecrochage",
        REGION,
        Route.TO_ML_OF_COMMUNE,
        "idSignalement",
        _REGION_DIALECTS,
        (Dialect.IMILO_JSON,),
        indicators=True,
        origin_field="region",
    ),
    Event(
        "reperage.SuiteSignalement",
        MISSION_LOCALE,
        Route.TO_NAMED_REGION,
        "idSignalement",
        (Dialect.IMILO_JSON,),
        _REGION_DIALECTS,
        indicators=True,
    ),
    Event(
        "aide.DemandeAide",
        MISSION_LOCALE,
        Route.TO_NAMED_REGION,
        "idDemande",
        (Dialect.IMILO_JSON,),
        _REGION_DIALECTS,
    ),
    Event(
        "aide.DecisionAide",
        REGION,
        Route.TO_MISSION_LOCALE,
        "idDemande",
        _REGION_DIALECTS,
        (Dialect.IMILO_JSON,),
        origin_field="region",
    ),
    Event(
        "orientation.EvenementOrientation",
        REGION,
        Route.TO_MISSION_LOCALE,
        "idEvenement",
        _REGION_DIALECTS,
        (Dialect.IMILO_JSON,),
        origin_field="region",
    ),
    Event(
        # Passerelle's own alert; the record's ``region`` is the Region funding the session.
        "formation.AttenteProlongee",
        None,
        Route.TO_BOTH,
        None,
        (),
        (Dialect.IMILO_JSON, Dialect.REGION_JSON),
        service="attente",
    ),
    Event(
        "pilotage.Indicateurs",
        None,
        Route.TO_BOTH,
        None,
        (),
        (Dialect.IMILO_JSON, *_REGION_DIALECTS),
        service="indicators",
    ),
)

BY_SUBJECT: dict[str, Event] = {e.subject: e for e in EVENTS}
INDICATORS_SUBJECT = "pilotage.Indicateurs"


def event(subject: str) -> Event | None:
    return BY_SUBJECT.get(subject)


def published_by(family: Family, dialect: Dialect | None = None) -> tuple[str, ...]:
    """Subjects a family publishes (in ``dialect``, when given), in table order."""
    return tuple(e.subject for e in EVENTS if e.publisher == family and (dialect is None or dialect in e.sent_in))


def sent_in(dialect: Dialect) -> tuple[str, ...]:
    return tuple(e.subject for e in EVENTS if dialect in e.sent_in)


def received_in(dialect: Dialect) -> tuple[str, ...]:
    return tuple(e.subject for e in EVENTS if dialect in e.received_in)


def id_field(subject: str) -> str | None:
    found = BY_SUBJECT.get(subject)
    return found.id_field if found else None


def origin_field(subject: str) -> str | None:
    found = BY_SUBJECT.get(subject)
    return found.origin_field if found else None


def followed_by_indicators() -> tuple[str, ...]:
    return tuple(e.subject for e in EVENTS if e.indicators)


def followed_by_attente() -> tuple[str, ...]:
    return tuple(e.subject for e in EVENTS if e.waits)


def funding_region(record: Mapping[str, Any]) -> str | None:
    """The Region funding a training session: ``regionDestinataire``, else the ``<region>:`` prefix of
    ``idSession`` (how the Carif-Oref session ids are minted); None when neither says."""
    explicit = record.get("regionDestinataire")
    if explicit:
        return str(explicit)
    prefix, sep, _ = str(record.get("idSession") or "").partition(":")
    # An empty prefix (":114782") names no region either: the routing error then points at idSession.
    return prefix if sep and prefix else None


def subjects(events: Iterable[Event] = EVENTS) -> tuple[str, ...]:
    return tuple(e.subject for e in events)
