"""I-MILO JSON: the Mission Locale side, in the style of the I-MILO API (camelCase French, nested dossier).

Inbound, the young person arrives as an I-MILO ``dossier``: Passerelle keys
them by the HMAC pseudonym of ``idDossier`` and carries only the fields the
contract has; other fields of the dossier are ignored (data minimisation),
after the whole message was checked for a NIR. Outbound, canonical records
are written as they are (the contracts already speak camelCase), nulls left out.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from passerelle.core import events
from passerelle.core.dialect import Draft, InboundContext, OutboundContext, Outcome, ReadThenMap, Rejected, Rendered
from passerelle.core.events import Dialect
from passerelle.core.native_json import JsonMessage, read_message
from passerelle.core.privacy import NirDetected, number_holds_nir, shown_value
from passerelle.core.shapes import Reading, read_date, read_id

CONTENT_TYPE = "application/json"
INBOUND = events.sent_in(Dialect.IMILO_JSON)

# (native path, canonical path, kind). Kinds: text, date, int, bool, code (enum, upper-cased), euros.
Mapping_ = tuple[tuple[str, str, str], ...]
_DOSSIER: Mapping_ = (
    ("dossier.nomNaissance", "jeune.nomNaissance", "text"),
    ("dossier.nomUsage", "jeune.nomUsage", "text"),
    ("dossier.prenom", "jeune.prenom", "text"),
    ("dossier.dateNaissance", "jeune.dateNaissance", "date"),
    ("dossier.sexe", "jeune.sexe", "code"),
    ("dossier.ine", "jeune.ine", "text"),
    ("dossier.courriel", "jeune.courriel", "text"),
    ("dossier.telephone", "jeune.telephone", "text"),
    ("dossier.adresse.codePostal", "jeune.codePostal", "text"),
    ("dossier.adresse.codeInsee", "jeune.codeInseeCommune", "text"),
    ("dossier.niveauQualification", "jeune.niveauQualification", "int"),
    ("dossier.rqth", "jeune.rqth", "bool"),
)
FIELDS: dict[str, Mapping_] = {
    "formation.Positionnement": (
        ("idPositionnement", "idPositionnement", "text"),
        *_DOSSIER,
        ("structureRattachement.codeStructure", "codeStructure", "text"),
        ("structureRattachement.nomOfficiel", "nomStructure", "text"),
        ("session.idSession", "idSession", "text"),
        ("session.regionFinanceur", "regionDestinataire", "text"),
        ("codeRomeVise", "codeRomeVise", "text"),
        ("datePositionnement", "datePositionnement", "date"),
        ("dispositif", "dispositif", "code"),
        ("conseiller.nom", "conseiller", "text"),
        ("conseiller.courriel", "courrielConseiller", "text"),
        ("commentaire", "commentaire", "text"),
    ),
    "reperage.SuiteSignalement": (
        ("idSignalement", "idSignalement", "text"),
        ("pseudonyme", "pseudonyme", "text"),
        ("structureRattachement.codeStructure", "codeStructure", "text"),
        ("region", "region", "text"),
        ("suite", "suite", "code"),
        ("dateSuite", "dateSuite", "date"),
        ("commentaire", "commentaire", "text"),
    ),
    "aide.DemandeAide": (
        ("idDemande", "idDemande", "text"),
        *_DOSSIER,
        ("structureRattachement.codeStructure", "codeStructure", "text"),
        ("region", "region", "text"),
        ("typeAide", "typeAide", "code"),
        ("montantDemande", "montantDemandeCentimes", "euros"),
        ("dateDemande", "dateDemande", "date"),
        ("commentaire", "commentaire", "text"),
    ),
}
_PERSONAL_NATIVE = {n for n, c, _ in _DOSSIER}


def native_path(subject: str, canonical: str) -> str:
    """The I-MILO field behind a canonical field, so contract errors name what the integrator wrote."""
    for native, target, _ in FIELDS.get(subject, ()):
        if target == canonical:
            return native
    return "dossier.idDossier" if canonical == "jeune.pseudonyme" else canonical


def _items(message: JsonMessage, context: InboundContext) -> Iterator[Outcome]:
    for item in message.items:
        if item.problems:  # first: a NIR anywhere, even as the event's name, is refused without echo
            named = item.value.get("typeEvenement") if isinstance(item.value, dict) else None
            yield Rejected(item.problems, item.position, named if named in INBOUND else None)
            continue
        yield _one(item.value, context, item.position, item.prefix)


parse = ReadThenMap(read_message, _items)


def _one(item: Any, context: InboundContext, position: str | None, prefix: str) -> Outcome:
    if not isinstance(item, dict):
        return Rejected.one("type", "objet JSON attendu", prefix or "$", position=position)
    subject = item.get("typeEvenement") or context.event_type
    if subject not in INBOUND:
        return Rejected.one(
            "type_inconnu" if not subject else "evenement_non_pris_en_charge",
            f"typeEvenement attendu parmi : {', '.join(INBOUND)}",
            _at(prefix, "typeEvenement"),
            position=position,
            received=shown_value(subject) if subject else None,
        )
    reading = Reading()
    record = _mapper(subject)(item, reading, prefix)
    if subject != "reperage.SuiteSignalement":
        where = _at(prefix, "dossier.idDossier")
        dossier_id = read_id(get_path(item, "dossier.idDossier"), reading, where, "identifiant du dossier I-MILO")
        if dossier_id is not None:
            put_path(record, "jeune.pseudonyme", context.pseudonymiser("imilo", dossier_id))
        elif not any(p.path == where for p in reading.problems):
            reading.bad("obligatoire", where, "identifiant du dossier I-MILO absent")
    if reading.problems:
        return Rejected(tuple(reading.problems), position, subject)
    key = record.get("pseudonyme") or record.get("jeune", {}).get("pseudonyme") or ""
    native_id = f"{subject}:{record.get(events.id_field(subject) or '', position or '')}"
    return Draft(subject, record, str(key), position, native_id)


def _convert(value: Any, kind: str, reading: Reading, path: str, personal: bool) -> Any:
    if kind == "date":
        return read_date(value, reading, path, personal=personal)
    if kind == "code":
        return value.strip().upper() if isinstance(value, str) else value
    if kind == "euros":
        if isinstance(value, bool) or not isinstance(value, int | float):
            reading.bad("type", path, "montant en euros attendu (nombre)", "nombre", value)
            return None
        cents = value * 100
        if not math.isfinite(cents):  # round() of an infinite amount raises OverflowError
            reading.bad("borne", path, "montant hors limites", "montant en euros", value)
            return None
        if number_holds_nir(round(cents)):  # 2840537261084.46 euros are a NIR in cents: the guard read euros
            reading.bad("nir", path, str(NirDetected(path)))
            return None
        return round(cents)
    return value


# Kinds _convert hands back unchanged: text, int and bool are checked by the contract, after the mapping.
_AS_IS = frozenset({"text", "int", "bool"})
# What a missing or non-object parent reads as: every field under it is absent.
_ABSENT: Mapping[str, Any] = MappingProxyType({})

Mapper = Callable[[dict[str, Any], Reading, str], dict[str, Any]]


@functools.cache
def _mapper(subject: str) -> Mapper:
    """The record of ``subject`` from an I-MILO item, as one function written for its fields: each native parent
    read once, then each field in ``FIELDS``' order (the order of the record's keys and of the errors). The same
    mapping as a loop over the fields took three times as long, in lookups that never change."""
    lines = ["def mapper(item, reading, prefix):", "    record = {}"]
    parents: dict[tuple[str, ...], str] = {(): "item"}
    # Each canonical sub-record, made on its first field present (as setdefault would, without a dict per field).
    targets: dict[tuple[str, ...], str] = {}
    for _, canonical, _ in FIELDS[subject]:
        *into, _ = _parts(canonical)
        if into and tuple(into) not in targets:
            targets[tuple(into)] = f"into{len(targets) + 1}"
            lines.append(f"    {targets[tuple(into)]} = None")
    for native, canonical, kind in FIELDS[subject]:
        *path, leaf = _parts(native)
        for depth in range(1, len(path) + 1):
            if tuple(path[:depth]) not in parents:
                name = parents[tuple(path[:depth])] = f"parent{len(parents)}"
                lines += [
                    f"    {name} = {parents[tuple(path[: depth - 1])]}.get({path[depth - 1]!r})",
                    f"    if not isinstance({name}, dict):",
                    f"        {name} = ABSENT",
                ]
        *into, last = _parts(canonical)
        lines += [f"    value = {parents[tuple(path)]}.get({leaf!r})", "    if value is not None:"]
        indent = "        "
        if kind == "code":  # written out: it cannot refuse, and a call per code cost more than the upper-casing
            lines.append("        value = value.strip().upper() if isinstance(value, str) else value")
        elif kind not in _AS_IS:  # the error path is only spelled out for the kinds that can refuse
            personal = native in _PERSONAL_NATIVE
            where = f"at(prefix, {native!r})"
            if kind == "date":  # the one kind every event has: read without _convert's dispatch
                converted = f"read_date(value, reading, {where}, personal={personal})"
            else:
                converted = f"convert(value, {kind!r}, reading, {where}, {personal})"
            lines += [f"        value = {converted}", "        if value is not None:"]
            indent += "    "
        target = "record"
        if into:
            target = targets[tuple(into)]
            made = "record" + "".join(f".setdefault({part!r}, {{}})" for part in into)
            lines.append(f"{indent}if {target} is None: {target} = {made}")
        lines.append(f"{indent}{target}[{last!r}] = value")
    lines.append("    return record")
    namespace: dict[str, Any] = {"ABSENT": _ABSENT, "convert": _convert, "read_date": read_date, "at": _at}
    code = compile("\n".join(lines), f"<I-MILO mapper {subject}>", "exec")
    exec(code, namespace)  # noqa: S102 - source built from FIELDS, this module's constants, names quoted by repr
    mapper: Mapper = namespace["mapper"]
    return mapper


@functools.cache
def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def get_path(item: Mapping[str, Any], dotted: str) -> Any:
    value: Any = item
    for part in _parts(dotted):
        if not isinstance(value, dict):  # what orjson builds; an ABC check costs several times more
            return None
        value = value.get(part)
    return value


def put_path(record: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = _parts(dotted)
    target = record
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _at(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix else path


# Canonical fields named like the message's event key: renamed on the way out, or they would replace the event's
# name (orientation.EvenementOrientation's typeEvenement is the kind of event: FORUM, SALON...).
RENAMED_OUT = {"typeEvenement": "natureEvenement"}


def render(subject: str, record: dict[str, Any], _context: OutboundContext | None = None) -> Rendered:
    body = _plain(record)
    for canonical, native in RENAMED_OUT.items():
        if canonical in body:
            body[native] = body.pop(canonical)
    return Rendered(orjson.dumps({"typeEvenement": subject, **body}), CONTENT_TYPE)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
