"""What every dialect checks on every native value before translating it, by rule and with the native path.

The NIR guard (``privacy``), characters that have no business in a field (C0 and C1 control characters other than
tab, CR and LF, DEL, Unicode bidirectional overrides and isolates, lone UTF-16 surrogates), the limits on field
length and nesting depth, and what a JSON reader could not take as it came: a key given twice in one object, a
number that no type of the contracts holds. Errors carry paths and rule names, never the values they refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from passerelle.core.first_look import CONTROL_BYTES, byte_classes
from passerelle.core.limits import Limits
from passerelle.core.privacy import NirDetected, contains_nir, number_holds_nir, shown_name
from passerelle.core.problems import Problem

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BIDI = "\u202a-\u202e\u2066-\u2069"
_SURROGATE = "\ud800-\udfff"
_FORBIDDEN = re.compile(f"[{_CONTROL}{_BIDI}{_SURROGATE}]")
# Problems kept per item: enough to fix a file, bounded whatever the file.
_MOST = 20
_SHORT = 15  # a NIR's length


class Duplicated(dict[str, Any]):
    """A JSON object in which some keys were given more than once (a parser keeps the last value in silence)."""

    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A JSON value no type of the contracts holds, kept for the error: a number of ``digits`` digits, or
    one of the non-standard constants NaN and Infinity (``digits`` 0)."""

    digits: int = 0


# The rule, and the problem's code, of an item refused for a NIR.
NIR_RULE = "nir"


def nir_problem(nir: NirDetected) -> Problem:
    return Problem(NIR_RULE, str(nir), nir.path, NIR_RULE)


def forbidden_character(text: str, path: str, in_name: bool = False) -> Problem | None:
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    where = " dans un nom de champ" if in_name else ""
    if "\u202a" <= char <= "\u2069":
        message = (
            f"caractère de contrôle de la direction du texte interdit{where} ({code}) : il fait lire le texte "
            "autrement qu'il n'est écrit"
        )
        return Problem("caractere_interdit", message, path, "caractere_bidi", "texte sans caractère de contrôle")
    if "\ud800" <= char <= "\udfff":
        message = f"caractère invalide{where} ({code}, moitié isolée d'une paire UTF-16)"
        return Problem("caractere_interdit", message, path, "caractere_invalide", "texte Unicode valide")
    message = f"caractère de contrôle interdit{where} ({code}) : seuls la tabulation et les fins de ligne sont admis"
    return Problem("caractere_interdit", message, path, "caractere_controle", "texte sans caractère de contrôle")


def text_problem(text: str, path: str, limits: Limits, in_name: bool = False) -> Problem | None:
    """The first rule one text (a value, or a field name with ``in_name``) breaks, the NIR first."""
    plain = text.isascii() and text.isprintable()  # no control character, and no NFKC to read a NIR through
    if plain and len(text) < _SHORT:
        return None  # most values
    if contains_nir(text):
        return nir_problem(NirDetected(path, in_name))
    if len(text) > limits.field_chars:
        return limits.field_too_long(len(text), path)
    return None if plain else forbidden_character(text, path, in_name)


def screen(value: Any, path: str, limits: Limits, depth: int = 1) -> tuple[Problem, ...]:
    """Every rule broken anywhere in one native item (a JSON object or array at ``depth`` in its document).

    A NIR is reported alone: the item is refused for it whatever else is wrong.
    """
    problems: list[Problem] = []
    try:
        _walk(value, path, depth, limits, problems)
    except _NirFound as found:
        return (found.problem,)
    return tuple(problems[:_MOST])


class _NirFound(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.path)
        self.problem = problem


def _keep(problem: Problem, problems: list[Problem]) -> None:
    if problem.code == NIR_RULE:
        raise _NirFound(problem)
    problems.append(problem)


def _walk(value: Any, path: str, depth: int, limits: Limits, problems: list[Problem]) -> None:
    # A plain recursive function appending to one list: a generator per node cost more than the checks.
    if isinstance(value, str):
        found = text_problem(value, path or "$", limits)
        if found is not None:
            _keep(found, problems)
    elif isinstance(value, dict):
        if depth > limits.depth:
            problems.append(limits.too_deep(path or "$"))
            return
        if isinstance(value, Duplicated):
            names = ", ".join(f"« {shown_name(k)} »" for k in value.duplicates)
            message = f"clé(s) en double dans l'objet : {names} (une seule valeur par clé)"
            problems.append(Problem("cle_en_double", message, path or "$", "cle_en_double"))
        for key, item in value.items():
            found = text_problem(key, path or "$", limits, in_name=True)
            if found is not None:
                _keep(found, problems)
            name = shown_name(key)
            _walk(item, f"{path}.{name}" if path else name, depth + 1, limits, problems)
    elif isinstance(value, list):
        if depth > limits.depth:
            problems.append(limits.too_deep(path or "$"))
            return
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", depth + 1, limits, problems)
    elif isinstance(value, Unreadable):
        message = (
            f"nombre hors limites : {value.digits} chiffres (18 au plus)"
            if value.digits
            else "valeur hors JSON standard (NaN, Infinity) : un nombre fini est attendu"
        )
        problems.append(Problem("type", message, path or "$", "nombre", "nombre fini de 18 chiffres au plus"))
    elif isinstance(value, int | float) and number_holds_nir(value):
        _keep(nir_problem(NirDetected(path or "$")), problems)


# ---------------------------------------------------------------- first look, in C only, over UTF-8 bytes
#
# As for the NIR guard, whole messages and LHEO formations are looked at with bytes methods first: control bytes,
# C1 characters (C2 80 to C2 9F) and the bidirectional controls (E2 80 AA to AE, E2 81 A6 to A9) map to classes
# and are found with ``in``; only then are the fields walked one by one to say where.
_CLASSES = byte_classes(
    b".",
    {
        b"c": CONTROL_BYTES,
        b"A": [0xC2],
        b"B": [0xE2],
        b"p": [0x80],
        b"v": [0x81],
        b"x": range(0x82, 0xA0),
        b"y": range(0xA6, 0xAA),
        b"w": range(0xAA, 0xAF),
    },
)
_FORBIDDEN_CLASSES = (b"c", b"Ap", b"Av", b"Ax", b"Bpw", b"Bvy")


def may_hold_forbidden(data: bytes, first: bytes | None = None) -> bool:
    """False when no character of ``data`` (UTF-8) is one ``forbidden_character`` refuses. ``first``, the caller's
    ``first_look.classes_of(data)``, settles most messages: no control byte and no lead byte but C3's."""
    if first is not None and b"c" not in first and b"n" not in first:
        return False
    classes = data.translate(_CLASSES)
    if b"c" in classes:
        return True
    # One-byte searches are several times faster than the multi-byte ones: C1 and bidi need a C2 or E2 lead byte.
    if b"A" not in classes and b"B" not in classes:
        return False
    return any(found in classes for found in _FORBIDDEN_CLASSES)
