"""Native shapes derived from the contracts: snake_case JSON, flat CSV columns, camelCase JSON.

The Region dialects name every field after the canonical one (``dateStatut``
becomes ``date_statut``; in CSV a nested ``jeune.nomNaissance`` becomes the
column ``jeune_nom_naissance``), so a new contract field is a new native
field without code. This module walks the Avro schema once per subject and
maps values both ways, reporting problems with the *native* path.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from passerelle.core.contracts.typed import MASKED
from passerelle.core.privacy import shown_name, shown_value
from passerelle.core.problems import Problem

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@functools.cache  # called for every field of every message, on a handful of distinct names
def snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


@dataclass(frozen=True)
class Node:
    """One field of a contract, as much as a native shape needs to know."""

    name: str
    kind: str  # string, int, long, double, boolean, date, timestamp, enum, record, array
    nullable: bool
    required: bool
    symbols: tuple[str, ...] = ()
    children: tuple[Node, ...] = ()
    item: Node | None = None
    personal: bool = False

    @property
    def by_name(self) -> dict[str, Node]:
        return {c.name: c for c in self.children}

    @cached_property
    def snake_name(self) -> str:
        """The field's name in the snake_case dialects, worked out once."""
        return snake(self.name)


@dataclass(frozen=True)
class Shape:
    subject: str
    root: Node
    named: dict[str, Node] = field(default_factory=dict)


def shape_of(subject: str, schema: Mapping[str, Any]) -> Shape:
    named: dict[str, Node] = {}
    root = _node(schema["name"], schema, named, required=True)
    return Shape(subject, root, named)


def _node(name: str, avro: Any, named: dict[str, Node], required: bool) -> Node:
    nullable = False
    if isinstance(avro, list):
        nullable = "null" in avro
        avro = next(b for b in avro if b != "null")
    if isinstance(avro, str) and avro in named:
        base = named[avro]
        return Node(name, base.kind, nullable, required, base.symbols, base.children, base.item)
    if isinstance(avro, str):
        return Node(name, avro, nullable, required)
    kind = avro["type"]
    logical = avro.get("logicalType")
    if logical == "date":
        return Node(name, "date", nullable, required)
    if logical in ("timestamp-millis", "timestamp-micros"):
        return Node(name, "timestamp", nullable, required)
    if kind == "enum":
        node = Node(name, "enum", nullable, required, tuple(avro["symbols"]))
        _remember(avro, node, named)
        return node
    if kind == "array":
        return Node(name, "array", nullable, required, item=_node(name, avro["items"], named, True))
    if kind == "record":
        children = tuple(
            _personal(_node(f["name"], f["type"], named, "default" not in f), bool(f.get("pii")))
            for f in avro["fields"]
        )
        node = Node(name, "record", nullable, required, children=children)
        _remember(avro, node, named)
        return node
    return Node(name, kind, nullable, required)


def _personal(node: Node, personal: bool) -> Node:
    if not personal:
        return node
    return Node(node.name, node.kind, node.nullable, node.required, node.symbols, node.children, node.item, True)


def _remember(avro: Mapping[str, Any], node: Node, named: dict[str, Node]) -> None:
    named[avro["name"]] = node
    if avro.get("namespace"):
        named[f"{avro['namespace']}.{avro['name']}"] = node


# ---------------------------------------------------------------- native → canonical


@dataclass
class Reading:
    """Native values read into a canonical record, with every problem found on the way."""

    problems: list[Problem] = field(default_factory=list)

    def bad(
        self,
        code: str,
        path: str,
        message: str,
        expected: str | None = None,
        received: Any = None,
        personal: bool = False,
    ) -> None:
        shown = None if received is None else (MASKED if personal else _show(received))
        self.problems.append(Problem(code, message, path, code, expected, shown))


def read_nested(native: Any, node: Node, reading: Reading, path: str = "", textual: bool = False) -> Any:
    """snake_case JSON (or CSV cells, ``textual``) → the canonical value for ``node``."""
    if native is None or (textual and native == ""):
        return None
    if node.kind == "record":
        if not isinstance(native, Mapping):
            reading.bad("type", path or "$", "objet attendu", "objet", native)
            return None
        out: dict[str, Any] = {}
        children = {snake(c.name): c for c in node.children}
        for key in native:
            if key not in children and key != "evenement":
                # The name is the sender's: a NIR or an e-mail address used as a key must not become the path.
                where = _join(path, shown_name(str(key)))
                reading.bad("champ_inconnu", where, "champ inconnu du format", ", ".join(children))
        for native_name, child in children.items():
            value = read_nested(native.get(native_name), child, reading, _join(path, native_name), textual)
            if value is not None:
                out[child.name] = value
        return out
    if node.kind == "array":
        items = native.split("|") if textual and isinstance(native, str) else native
        if not isinstance(items, list):
            reading.bad("type", path, "liste attendue", "liste", native)
            return None
        assert node.item is not None
        return [read_nested(v, node.item, reading, f"{path}[{i}]", textual) for i, v in enumerate(items)]
    return read_scalar(native, node, reading, path, textual)


# Numbers in text are read by these and nothing else: int() and float() also take superscript, full-width or
# Arabic-Indic digits, underscores, "inf" and "nan", and fail (ValueError) past 4,300 digits.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DIGITS = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,18}(?:[.,][0-9]{1,18})?")


def read_integer(text: str, reading: Reading, path: str, personal: bool = False) -> int | None:
    """An integer written in ASCII digits (18 at most, what an Avro long holds), else a problem."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DIGITS.fullmatch(text):
        reading.bad("borne", path, "nombre trop grand (18 chiffres au plus)", "18 chiffres au plus", text, personal)
    else:
        reading.bad("type", path, "nombre entier attendu (chiffres de 0 à 9)", "nombre entier", text, personal)
    return None


def read_decimal(text: str, reading: Reading, path: str, personal: bool = False) -> float | None:
    """A decimal number written in ASCII digits, with a point or a comma, else a problem."""
    if _DECIMAL.fullmatch(text):
        return float(text.replace(",", "."))
    reading.bad("type", path, "nombre attendu (ex. 12,5)", "nombre", text, personal)
    return None


def read_scalar(value: Any, node: Node, reading: Reading, path: str, textual: bool) -> Any:
    kind = node.kind
    if kind == "date":
        return read_date(value, reading, path, french=textual, personal=node.personal)
    if textual and isinstance(value, str):
        value = value.strip()
        if kind in ("int", "long"):
            return read_integer(value, reading, path, node.personal)
        if kind in ("double", "float"):
            return read_decimal(value, reading, path, node.personal)
        if kind == "boolean":
            lowered = value.lower()
            if lowered in ("1", "oui", "true", "vrai", "o"):
                return True
            if lowered in ("0", "non", "false", "faux", "n"):
                return False
            reading.bad("type", path, "booléen attendu (oui/non)", "oui ou non", value, node.personal)
            return None
    if kind == "enum" and isinstance(value, str):
        upper = value.strip().upper()
        if upper not in node.symbols:
            expected = ", ".join(node.symbols)
            message = f"valeur inconnue, attendue parmi : {expected}"
            reading.bad("code_inconnu", path, message, expected, value, node.personal)
            return None
        return upper
    return value


def read_id(value: Any, reading: Reading, path: str, what: str) -> str | None:
    """An identifier a pseudonym is made from: text, or a whole number, never a boolean (``true`` would make
    every such message the same young person), a decimal, a list or an object."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or value == "":
        return None
    reading.bad("type", path, f"{what} : texte ou nombre entier attendu", "texte ou nombre entier")
    return None


_FR_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
# fromisoformat alone also takes week dates (2026-W01-1) and compact ones (20260301).
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_date(value: Any, reading: Reading, path: str, french: bool = False, personal: bool = False) -> str | None:
    """ISO ``AAAA-MM-JJ`` (JSON) or ``jj/mm/aaaa`` (CSV) → ISO text, checked to be a real day."""
    if not isinstance(value, str):
        reading.bad("date", path, "date attendue", "jj/mm/aaaa" if french else "AAAA-MM-JJ", value, personal)
        return None
    text = value.strip()
    if french:  # CSV exports write jj/mm/aaaa and nothing else
        match = _FR_DATE.fullmatch(text)
        text = f"{match.group(3)}-{match.group(2)}-{match.group(1)}" if match else "invalide"
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError("longueur")
        dt.date.fromisoformat(text)  # a real day; the pattern makes the text its own ISO writing, returned as is
        return text
    except ValueError:
        expected = "jj/mm/aaaa" if french else "AAAA-MM-JJ"
        reading.bad("date", path, f"date invalide, attendue au format {expected}", expected, value, personal)
        return None


# ---------------------------------------------------------------- canonical → native


def write_nested(value: Any, node: Node) -> Any:
    """A canonical value as snake_case JSON; nulls are left out, never written as text."""
    if value is None:
        return None
    if node.kind == "record":
        out = {}
        for child in node.children:
            inner = value.get(child.name)
            if inner is None:
                continue
            if child.kind == "array":
                if inner:
                    out[child.snake_name] = write_nested(inner, child)
            elif child.kind == "record":
                out[child.snake_name] = write_nested(inner, child)
            else:  # a scalar: only dates and times are written differently
                out[child.snake_name] = write_scalar(inner) if isinstance(inner, dt.date) else inner
        return out
    if node.kind == "array":
        assert node.item is not None
        return [write_nested(v, node.item) for v in value]
    return write_scalar(value)


def write_scalar(value: Any, french_dates: bool = False) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y") if french_dates else value.isoformat()
    return value


def columns(node: Node, prefix: str = "") -> Iterator[tuple[str, tuple[str, ...], Node]]:
    """Flat CSV columns of a record: (column name, canonical path, leaf node)."""
    for child in node.children:
        name = f"{prefix}{snake(child.name)}"
        if child.kind == "record":
            for col, path, leaf in columns(child, name + "_"):
                yield col, (child.name, *path), leaf
        else:
            yield name, (child.name,), child


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    return shown_value(value)
