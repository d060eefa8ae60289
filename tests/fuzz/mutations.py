"""Hostile inputs: the seeds, mutated the way the outside tester did and the way chance does.

Structured mutations work on the parsed message (type swaps, keys given twice, huge numbers, control and
bidirectional characters, NIRs in every written form and other personal values, as values, numbers and field
names, deep nesting); byte mutations work on the bytes (flips, truncation, insertions, splices). A case that
carries a personal value keeps it intact (no byte mutation after it), so the properties can look for it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from lxml import etree

from passerelle.simulation import native as simulated
from tests.dialect_context import SHAPES
from tests.fuzz import seeds

NIR = "284053726108446"
# Every way a NIR was written to get past the guard, and the values that must never come back in an error.
NIR_FORMS = (
    NIR,
    "2 84 05 37 261 084 46",
    "2-84-05-37-261-084-46",
    "2.84.05.37.261.084.46",
    "2\u00a084\u00a005\u00a037\u00a0261\u00a0084\u00a046",
    "2\u202f84\u202f05\u202f37\u202f261\u202f084\u202f46",
    "2\u200984\u200905\u200937\u2009261\u2009084\u200946",
    "2\u200b84\u200b05\u200b37\u200b261\u200b084\u200b46",
    "".join(chr(0xFF10 + int(d)) for d in NIR),
    "284 053 726 108 446",
    "185122A00412371",  # Corsica (2A), with its real key
)
EMAIL = "jean.dupont@exemple.fr"
PHONE = "06 12 34 56 78"
PERSONAL = (*NIR_FORMS, EMAIL, PHONE, f"NIR : {NIR}", f"{EMAIL} {PHONE}")
# What is looked for in errors: a value only counts while it is intact in the input.
MARKERS = ("dupont", "0612345678", "06 12 34 56 78")

CONTROL = ("\x00", "\x1b", "\x07", "\x7f", "\x85", "\x92", "\u202e", "\u202d", "\u2066", "\u2069", "\ufeff", "\u200b")
AWKWARD = (
    "",
    " ",
    "²",
    "١٢",
    "１２",
    "1_000",
    "nan",
    "inf",
    "-0",
    "1e400",
    "9" * 5000,
    "2026-W10-1",
    "31/02/2026",
    "00000000",
    "99999999",
    "'",
    '"',
    '"oups',
    "a;b",
    "a\r\nb",
    "\r",
    '=HYPERLINK("x")',
    "x" * 70_000,
    "é" * 20,
    "Ã©",
    "\udc80",
)
SCALARS: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**20,
    -(10**19),
    1e308,
    -1e-308,
    int(NIR),
    float(NIR),
    int(NIR) / 100,
    "",
    [],
    {},
    [None],
    {"a": 1},
)


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is: a number with thousands of digits, NaN, an exponent orjson rejects."""

    text: str


class Pairs(list[tuple[str, Any]]):
    """A JSON object whose keys may repeat."""


RAW_TOKENS = (
    Raw("9" * 5000),
    Raw("-" + "1" * 400),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("1e400"),
    Raw("1.84127645108946e14"),
)


def emit(value: Any, ascii_only: bool = False) -> str:
    """JSON text of ``value``, with Pairs as objects (duplicates kept) and Raw tokens as they are."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return (
            "{" + ", ".join(f"{json.dumps(k, ensure_ascii=ascii_only)}: {emit(v, ascii_only)}" for k, v in value) + "}"
        )
    if isinstance(value, dict):
        return emit(Pairs(value.items()), ascii_only)
    if isinstance(value, list):
        return "[" + ", ".join(emit(v, ascii_only) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "1e400"
    return json.dumps(value, ensure_ascii=ascii_only)


@dataclass
class Case:
    """One hostile input and what to look for in the errors it gets."""

    partner: str
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)
    personal: tuple[str, ...] = ()
    steps: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- bytes


@st.composite
def byte_mutation(draw: st.DrawFn, payload: bytes) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "repeat"]))
    if not payload:
        return draw(st.binary(max_size=64)), "random"
    at = draw(st.integers(0, len(payload) - 1))
    if kind == "flip":
        count = draw(st.integers(1, 8))
        data = bytearray(payload)
        for _ in range(count):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data), f"flip×{count}"
    if kind == "truncate":
        return payload[:at], f"truncate@{at}"
    if kind == "insert":
        piece = draw(
            st.one_of(
                st.binary(min_size=1, max_size=16),
                st.sampled_from([b"\x00", b"\xff\xfe", b"\xc2\x85", b'"', b"<", b"\\"]),
            )
        )
        return payload[:at] + piece + payload[at:], f"insert@{at}"
    if kind == "splice":
        end = draw(st.integers(at, len(payload)))
        return payload[:at] + payload[end:], f"cut {at}:{end}"
    return payload[:at] + payload[at:][:200] * 3 + payload[at:], f"repeat@{at}"


# ---------------------------------------------------------------- structured JSON


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, Pairs):  # keys already given twice: mutated as a whole, not inside
        return found
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = _get(value, path[:-1])
    parent[path[-1]] = new
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, Pairs):
        return Pairs((k, _copy(v)) for k, v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@st.composite
def json_mutation(draw: st.DrawFn, value: Any, case: Case) -> Any:
    """One structured mutation of a parsed JSON message, at a node drawn from all of them."""
    value = _copy(value)
    path = draw(st.sampled_from(_paths(value)))
    node = _get(value, path)
    kind = draw(
        st.sampled_from(
            ["swap", "raw", "text", "personal", "nir-number", "key", "duplicate", "deep", "drop", "control"]
        )
    )
    case.steps.append(f"{kind} at {path}")
    if kind == "swap":
        return _set(value, path, draw(st.sampled_from(SCALARS)))
    if kind == "raw":
        return _set(value, path, draw(st.sampled_from(RAW_TOKENS)))
    if kind == "text":
        return _set(value, path, draw(st.sampled_from(AWKWARD)))
    if kind == "control":
        text = node if isinstance(node, str) else "texte"
        at = draw(st.integers(0, len(text)))
        return _set(value, path, text[:at] + draw(st.sampled_from(CONTROL)) + text[at:])
    if kind == "personal":
        secret = draw(st.sampled_from(PERSONAL))
        case.personal += (secret,)
        text = node if isinstance(node, str) else ""
        # Set apart by a space: glued to other digits or letters, a value is no longer the same number or address.
        return _set(value, path, draw(st.sampled_from([secret, f"{text} {secret}", f"{secret} {text}"])))
    if kind == "nir-number":
        case.personal += (NIR,)
        numbers = [int(NIR), float(NIR), Raw("2.84053726108446e14"), int(NIR) / 100]  # the last, in euros
        return _set(value, path, draw(st.sampled_from(numbers)))
    if kind == "key" and isinstance(node, dict):
        name = draw(st.sampled_from([*PERSONAL, *CONTROL, "x" * 70_000, "", "evenement", "typeEvenement"]))
        if name in PERSONAL:
            case.personal += (name,)
        node[name] = draw(st.sampled_from(SCALARS[:8]))
        return value
    if kind == "duplicate" and isinstance(node, dict) and node:
        pairs = Pairs(node.items())
        key = draw(st.sampled_from(list(node)))
        pairs.append((key, draw(st.sampled_from(SCALARS[:8]))))
        return _set(value, path, pairs)
    if kind == "deep":
        deep: Any = node
        for _ in range(draw(st.integers(30, 60))):
            deep = {"a": deep} if draw(st.booleans()) else [deep]
        return _set(value, path, deep)
    if kind == "drop" and path:
        parent = _get(value, path[:-1])
        del parent[path[-1]]
        return value
    return value


@st.composite
def json_case(draw: st.DrawFn, family: str) -> Case:
    """An I-MILO (``imilo``) or Region (``region``) JSON message: one seed or an array of several, mutated."""
    pool = seeds.imilo() if family == "imilo" else seeds.region_json()
    partner = "imilo" if family == "imilo" else "region-24"
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    value: Any = [_copy(v) for _, v in chosen] if len(chosen) > 1 or draw(st.booleans()) else _copy(chosen[0][1])
    case = Case(partner, b"")
    for _ in range(draw(st.integers(0, 3))):
        value = draw(json_mutation(value, case))
    case.payload = emit(value, ascii_only=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if not case.personal and draw(st.integers(0, 3)) == 0:
        case.payload, step = draw(byte_mutation(case.payload))
        case.steps.append(step)
    case.headers = draw(_headers([s for s, _ in chosen]))
    return case


@st.composite
def _headers(draw: st.DrawFn, subjects: list[str], required: bool = False) -> dict[str, str]:
    headers: dict[str, str] = {}
    if required or draw(st.booleans()):
        hostile = draw(st.integers(0, 9)) == 0
        headers["ce_type"] = draw(st.sampled_from(["formation.Inconnu", EMAIL] if hostile else subjects))
    if draw(st.integers(0, 9)) == 0:
        headers["ce_time"] = draw(st.sampled_from(["2026-03-02T10:00:00Z", "hier", "0001-01-01T00:00:00+01:00", "²"]))
    if draw(st.integers(0, 9)) == 0:  # a claim of origin, another partner's or hostile text
        headers["ce_source"] = draw(st.sampled_from(["region-53", "imilo", "passerelle/router", EMAIL, NIR, "\u202e"]))
    return headers


# ---------------------------------------------------------------- CSV


@st.composite
def csv_case(draw: st.DrawFn) -> Case:
    """A Region CSV file (profile region-53: latin-1, ``;``): header and rows, mutated cell by cell."""
    subject, records = draw(st.sampled_from(seeds.region_csv()))
    rows = [records[i] for i in draw(st.lists(st.integers(0, len(records) - 1), min_size=1, max_size=4))]
    text = simulated.region_csv_file(subject, rows, SHAPES[subject], "utf-8").decode()
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    case = Case("region-53", b"", {"ce_type": subject})
    for _ in range(draw(st.integers(0, 4))):
        _csv_mutation(draw, table, case)
    quoted = draw(st.booleans())
    out = io.StringIO(newline="")
    if quoted:
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(table)
    else:  # written as a careless export would: quotes and separators in cells left as they are
        out.write("".join(";".join(row) + "\r\n" for row in table))
    encoding = draw(st.sampled_from(["latin-1", "latin-1", "utf-8", "cp1252"]))
    case.payload = (
        out.getvalue().encode(encoding, "replace")
        if encoding != "utf-8"
        else out.getvalue().encode("utf-8", "surrogatepass")
    )
    case.steps.append(f"{'quoted' if quoted else 'raw'} {encoding}")
    if not case.personal and draw(st.integers(0, 3)) == 0:
        case.payload, step = draw(byte_mutation(case.payload))
        case.steps.append(step)
    if draw(st.integers(0, 5)) == 0:
        case.headers.update(draw(_headers([subject], required=True)))
    return case


def _csv_mutation(draw: st.DrawFn, table: list[list[str]], case: Case) -> None:
    kind = draw(st.sampled_from(["cell", "personal", "control", "header", "no-header", "width", "duplicate"]))
    row = draw(st.integers(0, len(table) - 1))
    col = draw(st.integers(0, max(len(table[row]) - 1, 0)))
    case.steps.append(f"{kind} at {row}:{col}")
    if not table[row]:
        return
    if kind == "cell":
        table[row][col] = draw(st.sampled_from(AWKWARD))
    elif kind == "personal":
        secret = draw(st.sampled_from(PERSONAL))
        case.personal += (secret,)
        table[row][col] = draw(st.sampled_from([secret, f"{table[row][col]} {secret}"]))
    elif kind == "control":
        table[row][col] += draw(st.sampled_from(CONTROL))
    elif kind == "header":
        name = draw(st.sampled_from([*PERSONAL, "colonne_inconnue", "", "\x1b", table[0][0]]))
        if name in PERSONAL:
            case.personal += (name,)
        table[0][col % len(table[0])] = name
    elif kind == "no-header" and len(table) > 1:
        del table[0]
    elif kind == "width":
        if draw(st.booleans()):
            table[row].append("en trop")
        else:
            del table[row][col]
    elif kind == "duplicate":
        table[0].append(table[0][col % len(table[0])])
        for other in table[1:]:
            other.append("x")


# ---------------------------------------------------------------- LHEO

_XML_SAFE = tuple(t for t in (*AWKWARD, *PERSONAL) if all(c in "\t\n\r" or c >= " " for c in t) and "\udc80" not in t)
_XML_CONTROL = ("\x85", "\x92", "\u202e", "\u2066", "\u200b", "\x7f")


@st.composite
def lheo_case(draw: st.DrawFn) -> Case:
    """An LHEO document: a repository or generated feed, mutated element by element, then maybe byte by byte."""
    feed = draw(st.sampled_from(seeds.lheo()))
    case = Case("region-24", b"", {"ce_type": "formation.OffreSession"})
    root = etree.fromstring(feed)
    for _ in range(draw(st.integers(0, 3))):
        _lheo_mutation(draw, root, case)
    payload = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    document = draw(st.sampled_from(["as is", "as is", "namespace", "html", "entities", "latin"]))
    case.steps.append(document)
    if document == "namespace":
        payload = payload.replace(b"lheo.gouv.fr/2.3", b"lheo.gouv.fr/9.9").replace(b"lheo.org/2.2", b"lheo.org/9.9")
    elif document == "html":
        payload = b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>502</title></head><body>" + payload[40:]
    elif document == "entities":
        entities = '<!DOCTYPE lheo [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        payload = payload.replace(b"?>", b"?>" + entities.encode(), 1).replace(b"<offres>", b"<offres>&b;", 1)
    elif document == "latin":
        payload = payload.decode().encode("latin-1", "replace")
    if not case.personal and draw(st.integers(0, 3)) == 0:
        payload, step = draw(byte_mutation(payload))
        case.steps.append(step)
    case.payload = payload
    return case


def _lheo_mutation(draw: st.DrawFn, root: etree._Element, case: Case) -> None:
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    element = draw(st.sampled_from(elements))
    kind = draw(st.sampled_from(["text", "personal", "control", "attribute", "deep", "drop", "copy", "count"]))
    case.steps.append(f"{kind} at {etree.QName(element).localname}")
    if kind == "text":
        element.text = draw(st.sampled_from(_XML_SAFE))
    elif kind == "personal":
        secret = draw(st.sampled_from(PERSONAL))
        case.personal += (secret,)
        element.text = f"{element.text or ''} {secret}"
    elif kind == "control":
        element.text = (element.text or "") + draw(st.sampled_from(_XML_CONTROL))
    elif kind == "attribute":
        secret = draw(st.sampled_from(PERSONAL))
        case.personal += (secret,)
        element.set(draw(st.sampled_from(["numero", "datemaj", "ref", "autre"])), secret)
    elif kind == "deep":
        parent = element
        for _ in range(draw(st.integers(30, 60))):
            parent = etree.SubElement(parent, element.tag)
    elif kind == "drop" and element.getparent() is not None:
        element.getparent().remove(element)  # type: ignore[union-attr]
    elif kind == "copy" and element.getparent() is not None:
        element.getparent().append(etree.fromstring(etree.tostring(element)))  # type: ignore[union-attr]
    elif kind == "count":
        names = ("nombre-heures-total", "nombre-heures-centre", "nb-places-financees", "debut", "fin")
        for target in root.iter():
            if isinstance(target.tag, str) and etree.QName(target).localname in names:
                target.text = draw(st.sampled_from(["9" * 5000, "²", "-1", "35h", "0" * 4400 + "7", "3\u0665"]))
                break
