"""Data-protection primitives: the young person's pseudonym and the NIR guard.

The NIR (French social-security number) never travels on the bus: any input
carrying one anywhere is rejected before translation. The young person is
keyed by an HMAC of a stable partner identifier, with a secret held outside
the bus, so recipients can correlate events without learning the identifier.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# 13 characters (sex, year, month, department incl. 2A/2B, commune, order) + 2-digit key,
# with or without the usual spaces. Bounded by non-alphanumerics so longer ids don't match.
_NIR = re.compile(
    r"(?<![0-9A-Za-z])([1-478])[ .]?([0-9]{2})[ .]?(0[1-9]|1[0-2]|[2-9][0-9])[ .]?"
    r"([0-9]{2}|2[AB])[ .]?([0-9]{3})[ .]?([0-9]{3})[ .]?([0-9]{2})(?![0-9A-Za-z])"
)


class NirDetected(ValueError):
    """Raised when an input carries a NIR; ``path`` says where, never the value."""

    code = "nir_interdit"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"NIR détecté dans « {path} » : le numéro de sécurité sociale ne doit jamais être transmis à Passerelle"
        )
        self.path = path


def _nir_key_ok(digits13: str, key: str) -> bool:
    number = int(digits13.replace("2A", "19").replace("2B", "18"))
    return 97 - number % 97 == int(key)


def contains_nir(text: str) -> bool:
    for match in _NIR.finditer(text):
        body = "".join(match.groups()[:6])
        if _nir_key_ok(body, match.group(7)):
            return True
    return False


def may_hold_nir(raw: bytes) -> bool:
    """One scan of the raw message: False means no field can hold a NIR, so the per-field walk is skipped.

    JSON ``\\u`` escapes could spell digits the raw scan cannot see, so they always count as suspect.
    """
    return b"\\u" in raw or contains_nir(raw.decode("utf-8", "replace"))


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def reject_nir(value: Any, path: str = "") -> None:
    """Raise NirDetected if any string anywhere in ``value`` holds a valid NIR."""
    for where, text in _strings(value, path):
        if len(text) >= 13 and contains_nir(text):
            raise NirDetected(where or "$")


def reject_nir_in_text(text: str, where: str) -> None:
    """Same guard over raw text (a CSV row, an XML document) before it is parsed."""
    if contains_nir(text):
        raise NirDetected(where)


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
_LONG_DIGITS = re.compile(r"\d[\d\s]{11,}\d")


def redact_text(text: str) -> str:
    text = _EMAIL.sub(MASK, text)
    text = _PHONE.sub(MASK, text)
    if contains_nir(text):
        text = _LONG_DIGITS.sub(MASK, text)
    return text


@dataclass(frozen=True)
class Pseudonymiser:
    """HMAC-SHA256 pseudonyms. The namespace keeps ids of different origins apart."""

    secret: bytes

    def __call__(self, namespace: str, identifier: str) -> str:
        message = f"{namespace}:{identifier.strip().upper()}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()
