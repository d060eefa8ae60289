"""What the Region JSON and CSV dialects share: which events, ids, keys and the dropout pseudonym.

Both name fields after the contract (snake_case); they differ only in how a
record is laid out (nested JSON or flat columns) and how dates are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from passerelle.core import events
from passerelle.core.dialect import Draft, InboundContext, Outcome, Rejected
from passerelle.core.events import Dialect
from passerelle.core.privacy import shown_value
from passerelle.core.shapes import Reading, Shape, read_id, read_nested, snake

REGION_IN = events.sent_in(Dialect.REGION_JSON)
# A Region's own id for a young person it signals, never sent on the bus.
REGION_PERSON_ID = "id_jeune"


def event_of(native: Mapping[str, Any], context: InboundContext, path: str) -> str | Rejected:
    event = native.get("evenement") or context.event_type
    if not event:
        return Rejected.one(
            "type_inconnu", "type d'événement absent : champ « evenement » ou en-tête ce_type", f"{path}evenement"
        )
    if event not in REGION_IN:
        # The sender's text stays out of the message: only a name from the events table is quoted.
        named = event if isinstance(event, str) and events.event(event) else "cet événement"
        return Rejected.one(
            "evenement_non_pris_en_charge",
            f"une Région ne publie pas {named} dans ce format (attendus : {', '.join(REGION_IN)})",
            f"{path}evenement",
            received=shown_value(event),
        )
    return str(event)


def translate(
    native: dict[str, Any],
    subject: str,
    context: InboundContext,
    position: str,
    textual: bool,
    path: str = "",
) -> Outcome:
    """One native item (a JSON object, or a CSV row already nested), already cleared of NIRs by ``nir_in``,
    → a draft or every problem found."""
    shape: Shape = context.shapes[subject]
    native = dict(native)
    native.pop("evenement", None)
    reading = Reading()
    pseudonym = None
    if subject == "reperage.SignalementDecrochage":
        pseudonym = _dropout_pseudonym(native, context, reading, path)
    record = read_nested(native, shape.root, reading, path.rstrip("."), textual)
    if reading.problems:
        return Rejected(tuple(reading.problems), position, subject)
    assert isinstance(record, dict)
    if pseudonym is not None:
        record.setdefault("jeune", {})["pseudonyme"] = pseudonym
    key = _key(subject, record)
    native_id = f"{subject}:{record.get(events.id_field(subject) or '', position)}"
    return Draft(subject, record, key, position, native_id)


def _dropout_pseudonym(native: dict[str, Any], context: InboundContext, reading: Reading, path: str) -> str | None:
    """A signalled young person is not known to the Mission Locale yet: pseudonym from the INE when given,
    else from the Region's own id for them."""
    person = native.get("jeune")
    if not isinstance(person, dict):
        return None
    person = dict(person)
    native["jeune"] = person
    own_id = read_id(person.pop(REGION_PERSON_ID, None), reading, f"{path}jeune.{REGION_PERSON_ID}", "id_jeune")
    ine = read_id(person.get("ine"), reading, f"{path}jeune.ine", "INE")
    if ine is not None:
        return context.pseudonymiser("ine", ine)
    if own_id is not None:
        return context.pseudonymiser(context.partner, own_id)
    if not reading.problems:
        reading.bad(
            "obligatoire", f"{path}jeune.{REGION_PERSON_ID}", "identifiant du jeune absent : ine ou id_jeune attendu"
        )
    return None


def _key(subject: str, record: Mapping[str, Any]) -> str:
    if "pseudonyme" in record:
        return str(record["pseudonyme"])
    person = record.get("jeune")
    if isinstance(person, Mapping) and person.get("pseudonyme"):
        return str(person["pseudonyme"])
    return str(record.get(events.id_field(subject) or "", subject))


def json_path(_subject: str, canonical: str) -> str:
    """``jeune.nomNaissance`` → ``jeune.nom_naissance``."""
    return ".".join(snake(part) for part in canonical.split("."))


def csv_column(_subject: str, canonical: str) -> str:
    """``jeune.nomNaissance`` → the column ``jeune_nom_naissance``."""
    return "_".join(snake(part) for part in canonical.split(".") if not part.startswith("["))
