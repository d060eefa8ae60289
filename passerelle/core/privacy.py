"""Data-protection primitives: the young person's pseudonym and the NIR guard.

The NIR (French social-security number) never travels on the bus: any input
carrying one anywhere is rejected before translation. The young person is
keyed by an HMAC of a stable partner identifier, with a secret held outside
the bus, so recipients can correlate events without learning the identifier.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from passerelle.core.first_look import CLASSES, byte_classes

# A NIR is 13 characters (sex, year, month, department incl. 2A/2B, commune, order) and a 2-digit key. It is
# looked for in groups of digits joined by separators (spaces of every width, dots, hyphens and dashes, and the
# invisible characters that can be slipped between digits), after Unicode NFKC, which turns full-width,
# superscript and other compatibility digits into ASCII ones and every non-breaking or thin space into a space.
# A candidate is a run of whole groups adding up to 15 characters: a digit string longer than that (an id) is
# never cut, SIRETs (14 digits) and phone numbers (groups of 2) cannot add up to it, and the decimals of a
# number (0.736479997634888, 47.8642616271973: LHEO coordinates) are not read as one.
#
# The rule reads UTF-8 bytes: Python's regular expressions scan some 10 ns a character, too slow for a whole LHEO
# formation, but bytes methods are fast. The bytes are mapped to classes first (``first_look``: digits to 0, the A
# and B of Corsica to a, spaces, hyphens, dots and every non-ASCII byte to s or n), and the exact rule only reads
# the places where a digit starts 15 such bytes or more, found by a pattern that begins with a literal.
_SEPARATOR_CHARS = " .-\u00ad\u200b\u200c\u200d\u200e\u200f\u2010\u2011\u2012\u2013\u2014\u2015\u202a\u202b\u202c\u202d"
_SEPARATOR_CHARS += "\u202e\u2060\u2066\u2067\u2068\u2069\u2212\ufeff"
_SEPARATOR = b"(?:" + b"|".join(re.escape(c.encode()) for c in _SEPARATOR_CHARS) + b")"
_GROUP = rb"[0-9](?:[0-9]|(?<=2)[AB])*+"
# Possessive: a long run of groups followed by a letter is given up in one step, never backtracked into.
_RUN = re.compile(_GROUP + rb"(?:" + _SEPARATOR + rb"{1,3}+" + _GROUP + rb")*+")
_SPLIT = re.compile(rb"(" + _SEPARATOR + rb"+)")
_NIR_BODY = re.compile(rb"[1-478][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:[0-9]{2}|2[AB])[0-9]{8}")
_NIR_LENGTH = 15
_PLACES = re.compile(rb"0[0asn]{14,}")
# Ints with more digits than this are one group longer than a NIR, or too long for str() (Python's 4,300 digits).
_NUMBER_DIGITS = 40


# A JSON number in exponent notation (1.84127645108946e14) spells digits its text does not show. Its value starts
# after a colon, comma or bracket and blanks, or at the document's start: in these classes ":0…0e" or "0…0e" first
# (blanks, signs, digits and points are all 0). A digit before an "e" in a string, as in a hexadecimal pseudonym,
# is not one.
_NUMBER_CLASSES = byte_classes(b"x", {b"0": b"0123456789.-+ \t\n\r", b":": b":,[", b"e": b"eE"})
_EXPONENT_VALUE = re.compile(rb":0+e")
_EXPONENT_DOCUMENT = re.compile(rb"0+e")
# Digits, Corsica's letters and separators as one class: a NIR needs 15 of them in a row, a fast substring search.
_AS_RUN = bytes.maketrans(b"asn", b"000")
_SHORTEST_RUN = b"0" * _NIR_LENGTH


class NirDetected(ValueError):
    """Raised when an input carries a NIR; ``path`` says where, never the value."""

    code = "nir_interdit"

    def __init__(self, path: str, in_name: bool = False) -> None:
        where = f"un nom de champ de « {path} »" if in_name else f"« {path} »"
        super().__init__(
            f"NIR détecté dans {where} : le numéro de sécurité sociale ne doit jamais être transmis à Passerelle"
        )
        self.path = path
        self.in_name = in_name


def normalise(text: str) -> str:
    """The text the NIR guard reads: NFKC, so look-alike digits and spaces become plain ones."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def normalised_utf8(text: str) -> bytes:
    """What the byte-level looks read: the UTF-8 of the NFKC text."""
    return normalise(text).encode("utf-8", "surrogatepass")


def utf8_holds_nir(data: bytes) -> bool:
    """The guard over text already through ``normalised_utf8`` (a whole LHEO formation, read once)."""
    return next(_nir_spans(data), None) is not None


def _nir_spans(data: bytes, classes: bytes | None = None, commas: bool = True) -> Iterator[tuple[int, int]]:
    """Byte spans of ``data`` (UTF-8 of normalised text) holding a NIR: the whole run of groups each is in.

    ``commas=False`` when a comma may separate values (raw JSON) rather than mark decimals."""
    classes = data.translate(CLASSES) if classes is None else classes
    for place in _PLACES.finditer(classes):
        begin, finish = place.span()
        if classes.count(b"0", begin, finish) + classes.count(b"a", begin, finish) < _NIR_LENGTH:
            continue
        whole, point, decimals = data[begin:finish].partition(b".")
        if point and len(whole) != _NIR_LENGTH and whole.isdigit() and decimals.isdigit():
            continue  # a decimal number: no candidate survives _decimals
        for run in _RUN.finditer(data, begin, finish):
            start, end = run.span()
            if end - start >= _NIR_LENGTH and _run_holds_nir(data, start, end, commas):
                yield start, end


def _run_holds_nir(data: bytes, start: int, end: int, commas: bool) -> bool:
    parts = _SPLIT.split(data[start:end])  # [group, separator, group, ...]
    groups = parts[::2]
    # A first group that ends a word, or a last one that starts a word, is not a number of its own.
    low = 1 if data[start - 1 : start].isalnum() else 0
    high = len(groups) - (1 if data[end : end + 1].isalnum() else 0)
    for first in range(low, high):
        size = 0
        for last in range(first, high):
            size += len(groups[last])
            if size >= _NIR_LENGTH:
                break
        if size != _NIR_LENGTH or _decimals(data, start, parts, first, last, commas):
            continue
        body = b"".join(groups[first : last + 1])
        if _NIR_BODY.fullmatch(body) and _nir_key_ok(body):
            return True
    return False


def _decimals(data: bytes, start: int, parts: list[bytes], first: int, last: int, commas: bool) -> bool:
    """Whether groups ``first`` to ``last`` of the run are a decimal number or its decimals."""
    if first == last and first:
        return parts[2 * first - 1] == b"."
    if first == last:
        points = (b".", b",") if commas else (b".",)
        return data[start - 1 : start] in points and data[start - 2 : start - 1].isdigit()
    return last == first + 1 and parts[2 * first + 1] == b"."


def _nir_key_ok(body: bytes) -> bool:
    number = int(body[:13].replace(b"2A", b"19").replace(b"2B", b"18"))
    return 97 - number % 97 == int(body[13:])


def contains_nir(text: str) -> bool:
    if text.isascii():
        if len(text) < _NIR_LENGTH:
            return False
        data = text.encode()
    else:
        data = normalised_utf8(text)
    classes = data.translate(CLASSES)
    if classes.count(b"0") < _NIR_LENGTH - 2:  # 13 digits at least, with Corsica's 2A or 2B
        return False
    return next(_nir_spans(data, classes), None) is not None


def number_holds_nir(value: int | float) -> bool:
    """A NIR sent as a JSON number (``184127645108946``, or ``1.84127645108946e14``)."""
    return contains_nir(_number_text(value))


def _number_text(value: int | float) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value) if value.bit_length() <= _NUMBER_DIGITS * 4 else ""
    return repr(value) if math.isfinite(value) else ""


def may_hold_nir(raw: bytes, classes: bytes | None = None) -> bool:
    """One look at a raw JSON message (``classes``: its ``first_look.classes_of`` when the caller has it): False
    means no string, number or key can hold a NIR once parsed, so the per-field walk is skipped."""
    classes = raw.translate(CLASSES) if classes is None else classes
    if b"n" in classes:  # text NFKC may change (a superscript or full-width digit, a no-break space): normalised
        raw = normalised_utf8(raw.decode("utf-8", "replace"))
        classes = raw.translate(CLASSES)
    # An escape (\u0031, or \n read as a letter before digits) or a number in exponent notation spells digits the
    # raw text does not show.
    if b"\\" in classes or (b"0e" in classes and _holds_exponent_number(raw)):
        return True
    if _SHORTEST_RUN not in classes.translate(_AS_RUN):  # most messages: no place for the pattern search to try
        return False
    return next(_nir_spans(raw, classes, commas=False), None) is not None


def _holds_exponent_number(raw: bytes) -> bool:
    numbers = raw.translate(_NUMBER_CLASSES)
    return _EXPONENT_VALUE.search(numbers) is not None or _EXPONENT_DOCUMENT.match(numbers) is not None


def _texts(value: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """(path, text, is a field name) for every string, number and key in ``value``."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            yield path, key, True
            yield from _texts(v, f"{path}.{shown_name(key)}" if path else shown_name(key))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _texts(v, f"{path}[{i}]")
    elif isinstance(value, int | float):
        yield path, _number_text(value), False


def reject_nir(value: Any, path: str = "") -> None:
    """Raise NirDetected if any string, number or field name anywhere in ``value`` holds a valid NIR."""
    for where, text, in_name in _texts(value, path):
        if contains_nir(text):
            raise NirDetected(where or "$", in_name)


def reject_nir_in_text(text: str, where: str) -> None:
    """Same guard over one text (a CSV cell, an XML text or attribute)."""
    if contains_nir(text):
        raise NirDetected(where)


# A field name shown in an error: what a format names its fields with, else masked (a NIR, an e-mail address
# or a data row used as names must not come back in the error that refuses them).
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_DIGIT_RUN = re.compile(r"[0-9]{5}")
MASKED_NAME = "(nom masqué)"


@functools.lru_cache(maxsize=4096)  # called for every key of a walked message, on the few names formats use
def shown_name(name: str) -> str:
    if _PLAIN_NAME.fullmatch(name) and not _DIGIT_RUN.search(name):
        return name
    return MASKED_NAME


# Redaction: what logs, error messages and DLQ headers show instead of a personal value.
MASK = "***"
PERSONAL_KEYS = frozenset(
    {
        "nom",
        "nomnaissance",
        "nomusage",
        "prenom",
        "prenoms",
        "datenaissance",
        "date_naissance",
        "sexe",
        "ine",
        "nir",
        "courriel",
        "email",
        "mail",
        "telephone",
        "tel",
        "portable",
        "adresse",
        "adresse1",
        "codepostal",
        "code_postal",
        "commune",
        "codeinseecommune",
        "rqth",
        "commentaire",
        "commentaires",
        "record",
        "payload",
        "value",
        "body",
        "instance",
        "nom_naissance",
        "nom_usage",
        "prenom_usage",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")


def redact_text(text: str) -> str:
    """NIRs first (in any of the forms the guard reads), then e-mails and phone numbers, each replaced by MASK."""
    return _PHONE.sub(MASK, _EMAIL.sub(MASK, _mask_nirs(text)))


def shown_value(value: Any, limit: int = 60) -> str:
    """What an error may quote of a received value: short, with NIRs, e-mails and phone numbers masked."""
    if isinstance(value, dict | list | tuple):
        return "(objet)" if isinstance(value, dict) else "(liste)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _NUMBER_DIGITS * 4:
        return f"(nombre de plus de {_NUMBER_DIGITS} chiffres)"  # str() refuses 4,300 digits and more
    text = value if isinstance(value, str) else str(value)
    text = redact_text(text[: limit * 4])  # masked before it is cut, so no NIR is cut out of its mask
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mask_nirs(text: str) -> str:
    if len(text) < _NIR_LENGTH and text.isascii():
        return text
    data = normalised_utf8(text)
    pieces: list[bytes] = []
    last = 0
    for start, end in _nir_spans(data):
        pieces += [data[last:start], MASK.encode()]
        last = end
    return b"".join([*pieces, data[last:]]).decode("utf-8", "surrogatepass") if pieces else text


@dataclass(frozen=True)
class Pseudonymiser:
    """HMAC-SHA256 pseudonyms. The namespace keeps ids of different origins apart.

    The HMAC is keyed once and copied per pseudonym: ``hmac.new`` would set OpenSSL's HMAC up again for every
    message.
    """

    secret: bytes
    _keyed: HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", HMAC(self.secret, hashes.SHA256()))

    def __call__(self, namespace: str, identifier: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{namespace}:{identifier.strip().upper()}".encode())
        return mac.finalize().hex()
