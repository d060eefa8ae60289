"""A DLQ record's original body as the console shows it by default: personal values masked."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import orjson

from passerelle.core.privacy import MASK, PERSONAL_KEYS, number_holds_nir, redact_text

# An element holding only text: <prenom>Léa</prenom>, <ns:nom a="1">Martin</ns:nom>.
_XML_ELEMENT = re.compile(r"<((?:[\w.-]+:)?([\w.-]+))(\s[^<>]*)?>([^<]*)</\1>")
_CSV_SEPARATORS = (";", ",", "\t")


def _personal(name: str) -> bool:
    return name.strip().strip('"').lower() in PERSONAL_KEYS


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _personal(str(k)) else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and number_holds_nir(value):
        return MASK
    return value


def _masked_xml(text: str) -> str:
    def element(found: re.Match[str]) -> str:
        if not _personal(found[2]) or not found[4].strip():
            return found[0]
        return f"<{found[1]}{found[3] or ''}>{MASK}</{found[1]}>"

    return _XML_ELEMENT.sub(element, text)


def _masked_csv(text: str) -> str:
    """The columns whose header names a personal field, masked on every line; other text left to redaction."""
    header = text.split("\n", 1)[0]
    separator = next((s for s in _CSV_SEPARATORS if s in header), None)
    if separator is None:
        return text
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    personal = {i for i, name in enumerate(rows[0]) if _personal(name)}
    if not personal:
        return text
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([MASK if i in personal and cell else cell for i, cell in enumerate(row)])
    return out.getvalue()


def masked_body(body: bytes) -> str:
    """JSON: personal keys' values masked, and every NIR, e-mail and phone number in its texts. XML: personal
    elements' text masked. CSV: personal columns masked. Then, for anything not JSON, the logs' redaction."""
    text = body.decode("utf-8", "replace")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        shaped = _masked_xml(text) if text.lstrip().startswith("<") else _masked_csv(text)
        return redact_text(shaped)
    return orjson.dumps(_masked(parsed), option=orjson.OPT_INDENT_2).decode("utf-8")
