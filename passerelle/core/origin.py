"""Claims of origin: a partner publishes on ``in.<partner>`` in its own name only.

The topic is the sender's identity (Kafka ACLs decide who may write it). A header or a field of the message
that names a sender is a claim, and a claim naming anyone else is refused: a Region cannot pass its message off
as another Region's, nor as I-MILO's or Passerelle's. A message without any claim is the topic's partner's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from passerelle.core import events
from passerelle.core.headers import SENDER
from passerelle.core.partners import PARTNER_ID, PartnerProfile
from passerelle.core.privacy import shown_value
from passerelle.core.problems import Problem

USURPED = "origine_usurpee"
SOURCE = "ce_source"
_PREFIXES = ("/partenaire/", "partenaire/", "/")


def source_forms(partner: str) -> tuple[str, ...]:
    """The ``ce_source`` values that designate ``partner``: its id, as Passerelle writes it on canonical events,
    or that id under ``partenaire/``."""
    return (partner, f"partenaire/{partner}", f"/partenaire/{partner}")


def _sender_forms(partner: str) -> tuple[str, ...]:
    # Passerelle writes its own header with the bare id (a DLQ record replayed to in.<partner> carries it).
    return (partner,)


_CLAIMS = {SOURCE: source_forms, SENDER: _sender_forms}


def header_claim(partner: str, headers: Iterable[tuple[str, bytes | None]]) -> Problem | None:
    """The first header that names a sender other than ``partner``, the partner whose topic the message was read
    from; every value counts, not only the last one, and ``CE-Source`` is read as ``ce_source``."""
    for name, raw in headers:
        header = name.lower().replace("-", "_")
        forms = _CLAIMS.get(header)
        if forms is None or not raw:
            continue
        value = raw.decode("utf-8", "replace")
        accepted = forms(partner)
        if value in accepted:
            continue
        claimed = _designated(value)
        said = f"se dit émis par {claimed}" if claimed else "se dit émis par un autre expéditeur"
        admitted = ", ".join(accepted)
        return Problem(
            USURPED,
            f"en-tête {header} : le message, publié sur in.{partner}, {said} ; un partenaire ne publie qu'en son "
            f"nom (valeurs admises : {admitted}, ou en-tête absent)",
            header,
            USURPED,
            admitted,
            shown_value(value),
        )
    return None


def record_claim(profile: PartnerProfile, subject: str, record: Mapping[str, Any]) -> Problem | None:
    """The record's own claim of origin (the Region that publishes it, ``region`` for a Region's events), when it
    names a Region other than the sender's. ``path`` is the canonical field: the adapter names it natively."""
    field = events.origin_field(subject)
    claimed = record.get(field) if field else None
    if field is None or claimed is None or claimed == profile.region:
        return None
    own = f"la région {profile.region}" if profile.region else profile.id
    return Problem(
        USURPED,
        f"région émettrice : l'événement, publié sur in.{profile.id}, se dit émis par la région "
        f"{shown_value(claimed)} ; il ne peut venir que de {own} : un partenaire ne publie qu'en son nom",
        field,
        USURPED,
        profile.region,
        shown_value(claimed),
    )


def _designated(value: str) -> str | None:
    """The partner a ``ce_source`` value names, when it is a partner id (quoted in the error), else None."""
    if value.startswith("passerelle/") or value == "passerelle":
        return "Passerelle"
    for prefix in _PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    return value if PARTNER_ID.fullmatch(value) else None
