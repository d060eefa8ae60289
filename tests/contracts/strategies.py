"""Hypothesis strategies built from an Avro schema, honouring the ``format`` of code fields."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from passerelle.core.contracts.formats import FORMATS, NIVEAUX_2019

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def records(schema: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return _strategy(schema, None, {})


def _strategy(avro: Any, field: Mapping[str, Any] | None, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(avro, list):
        return st.one_of(*(_strategy(b, field, named) for b in avro))
    if isinstance(avro, str):
        if avro in named:
            return _strategy(named[avro], field, named)
        return _primitive(avro, field)
    kind = avro["type"]
    if avro.get("name"):
        named[avro["name"]] = avro
        if avro.get("namespace"):
            named[f"{avro['namespace']}.{avro['name']}"] = avro
    logical = avro.get("logicalType")
    if logical == "date":
        return st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
    if logical == "timestamp-millis":
        return st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)).map(
            lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
        )
    if logical == "uuid":
        return st.uuids().map(str)
    if kind == "record":
        fields = {f["name"]: _strategy(f["type"], f, named) for f in avro["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "enum":
        return st.sampled_from(avro["symbols"])
    if kind == "array":
        return st.lists(_strategy(avro["items"], field, named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), _strategy(avro["values"], field, named), max_size=3)
    return _primitive(kind, field)


def _primitive(kind: str, field: Mapping[str, Any] | None) -> st.SearchStrategy[Any]:
    fmt = (field or {}).get("format")
    if kind == "string":
        if fmt in FORMATS:
            return st.from_regex(FORMATS[fmt].pattern, fullmatch=True)
        return st.text(max_size=30)
    if kind == "int":
        return st.sampled_from(list(NIVEAUX_2019)) if fmt == "niveau_2019" else st.integers(*INT32)
    if kind == "long":
        return st.integers(*INT64)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32 if kind == "float" else 64)
    if kind == "boolean":
        return st.booleans()
    if kind == "bytes":
        return st.binary(max_size=20)
    if kind == "null":
        return st.none()
    raise TypeError(kind)


# Values of every type a record may be handed by mistake, the edges of each type first: where two readings of the
# same contract (compiled and fastavro's writers, dict and model validators) could part.
EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, -0.0, float("nan"), float("inf"),
    2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
    "", "INCONNU", "F", "\ud800", "x" * 1023, "é" * 512, "é" * 4096, b"", b"x", [], ["F1604"], (), ("F1604",), {},
    dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.datetime(2026, 3, 2, 10, 15), dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
]  # fmt: skip
ANY_VALUE: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(EDGES),
    st.integers(),
    st.floats(),
    st.text(max_size=70),
    st.binary(max_size=5),
    st.dates(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.lists(st.text(max_size=3), max_size=2),
)


DROP = object()  # for changed(): remove the field instead of setting it


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every field and item of a record, nested ones included."""
    inner: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        inner = [p for key, v in value.items() for p in paths(v, (*path, key))]
    elif isinstance(value, list):
        inner = [p for i, v in enumerate(value) for p in paths(v, (*path, i))]
    return [path, *inner] if path else inner


def changed(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``record`` with the field or item at ``path`` set to ``value``, or dropped (its default then
    applies) when ``value`` is ``DROP``."""
    *parents, last = path
    changed = copy.deepcopy(record)
    target: Any = changed
    for part in parents:
        target = target[part]
    if value is DROP:
        if isinstance(target, dict):
            del target[last]
    else:
        target[last] = value
    return changed


__all__ = ["ANY_VALUE", "DROP", "EDGES", "changed", "paths", "records", "uuid"]
