"""What the JSON dialects share: a message is one object or an array of them, each item known by its place and
already screened (NIR, forbidden characters, limits, duplicate keys, numbers no type holds).

orjson reads every message. The standard library's parser reads it again only when orjson cannot (a number
with thousands of digits is still JSON) or when a key may be given twice in one object, which orjson would
settle in silence by keeping the last value: a count of the colons in the raw text against those of orjson's
own writing of what it kept says so without walking the document.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from passerelle.core.dialect import InboundContext, Rejected
from passerelle.core.first_look import classes_of
from passerelle.core.guard import Duplicated, Unreadable, may_hold_forbidden, screen
from passerelle.core.limits import LIMITS, Limits
from passerelle.core.privacy import may_hold_nir
from passerelle.core.problems import Problem


# Not frozen: built for every message and read once, where a frozen dataclass's __init__ costs four times more.
@dataclass(slots=True)
class JsonItem:
    value: Any
    index: int
    # "[3]" inside an array, "" for a lone object: the prefix of every native path of this item.
    prefix: str
    # "élément 4" inside an array, None for a lone object: what feedback calls this item.
    position: str | None
    # Every rule the item breaks before translation; a NIR alone when there is one.
    problems: tuple[Problem, ...] = ()


@dataclass(slots=True)
class JsonMessage:
    items: tuple[JsonItem, ...]


# A colon written as a \u escape is one the raw text does not show, and orjson's writing does.
_HIDDEN_COLON = re.compile(rb"\\u003[aA]")
_LARGEST = 18  # digits of an integer the contracts hold (an Avro long)


def read_json(payload: bytes, limits: Limits = LIMITS) -> JsonMessage | Rejected:
    too_large = limits.message_too_large(len(payload))
    if too_large is not None:
        return Rejected((too_large,))
    rechecked = False  # read by the standard library: Duplicated and Unreadable may be in the document
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        document = _standard(payload)
        if document is _NOT_JSON:
            return Rejected((_unreadable(payload, exc, limits),))
        rechecked = True
    else:
        if _keys_may_repeat(payload, document):
            document = _standard(payload)
            rechecked = True
    values = document if isinstance(document, list) else [document]
    if not values:
        return Rejected.one("vide", "tableau JSON vide : aucun élément à traduire", "$")
    too_many = limits.too_many_items(len(values), "éléments")
    if too_many is not None:
        return Rejected((too_many,))
    classes = classes_of(payload)
    walk = (
        rechecked
        or may_hold_nir(payload, classes)
        or may_hold_forbidden(payload, classes)
        or len(payload) > limits.field_chars
        or classes.count(b"{") > limits.depth  # objects and arrays opened, nested or not
    )
    if not isinstance(document, list):
        problems = screen(document, "", limits) if walk else ()
        return JsonMessage((JsonItem(document, 0, "", None, problems),))
    return JsonMessage(
        tuple(
            JsonItem(value, i, f"[{i}]", f"élément {i + 1}", screen(value, f"[{i}]", limits, 2) if walk else ())
            for i, value in enumerate(values)
        )
    )


def read_message(payload: bytes, context: InboundContext) -> JsonMessage | Rejected:
    """``read_json`` within the partner's limits: the reading step of every JSON dialect."""
    return read_json(payload, context.limits)


def _keys_may_repeat(payload: bytes, document: Any) -> bool:
    if not isinstance(document, dict | list):
        return False
    if b"\\u003" in payload and _HIDDEN_COLON.search(payload):
        return True
    # Outside strings a colon ends a key, inside one orjson writes it as it came: a key orjson dropped, and the
    # value it held, take at least one colon from its writing. One-byte counts, whatever the spacing.
    return payload.count(b":") != orjson.dumps(document).count(b":")


_NOT_JSON = object()


def _standard(payload: bytes) -> Any:
    """The standard library's reading, which keeps what orjson would lose: keys given twice, long numbers."""
    try:
        text = payload.decode("utf-8")
        return json.loads(
            text, object_pairs_hook=_pairs, parse_int=_integer, parse_float=_decimal, parse_constant=_constant
        )
    except (ValueError, RecursionError):
        return _NOT_JSON


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    twice: list[str] = []
    for key, value in pairs:
        if key in seen and key not in twice:
            twice.append(key)
        seen[key] = value
    if not twice:
        return seen
    duplicated = Duplicated(seen)
    duplicated.duplicates = tuple(twice)
    return duplicated


def _integer(text: str) -> int | Unreadable:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= _LARGEST else Unreadable(digits)  # int() refuses 4,300 digits and more


def _decimal(text: str) -> float | Unreadable:
    value = float(text)
    return value if math.isfinite(value) else Unreadable(sum(c.isdigit() for c in text))


def _constant(_text: str) -> Unreadable:
    return Unreadable()


def _unreadable(payload: bytes, exc: orjson.JSONDecodeError, limits: Limits) -> Problem:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as bad:
        message = f"JSON illisible : octets invalides en UTF-8 à la position {bad.start} (JSON s'écrit en UTF-8)"
        return Problem("json", message, "$", "json")
    if "depth limit" in exc.msg or "recursion" in exc.msg:
        return limits.too_deep("$")
    reason = _REASONS.get(exc.msg, "syntaxe JSON invalide")
    return Problem("json", f"JSON illisible ligne {exc.lineno}, colonne {exc.colno} : {reason}", "$", "json")


# orjson's messages, in French for the sender's integrator.
_REASONS = {
    "Input is a zero-length, empty document": "message vide",
    "unexpected end of data": "fin inattendue (message tronqué ?)",
    "unexpected content after document": "contenu après la fin du document",
    "unexpected control character in string": "caractère de contrôle non échappé dans une chaîne",
    "invalid escaped sequence in string": "séquence d'échappement invalide dans une chaîne",
    "number is infinity when parsed as double": "nombre hors limites",
    "unexpected character, expected ',' or '}'": "caractère inattendu, « , » ou « } » attendu",
    "unexpected character, expected ',' or ']'": "caractère inattendu, « , » ou « ] » attendu",
    "unexpected character, expected ':' after key": "caractère inattendu, « : » attendu après une clé",
    "unexpected character, expected a JSON value": "caractère inattendu, une valeur JSON attendue",
    "unexpected character, expected a string key": "caractère inattendu, une clé entre guillemets attendue",
    "unexpected character": "caractère inattendu",
}
