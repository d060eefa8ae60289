"""The generated I-MILO mapper reads exactly what a plain walk of ``FIELDS`` reads, whatever shape the item has.

The walk below is the rule written the obvious way: each field's native path followed part by part (a missing or
non-object parent means the field is absent), its value converted by kind, put at its canonical path. Items are
drawn around the real fields: present, absent, null, of the wrong type, parents replaced by lists or strings.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.shapes import Reading
from services.milo_adapter.dialects import imilo_json
from services.milo_adapter.dialects.imilo_json import FIELDS, _at, _convert, _mapper

_PERSONAL = {native for native, _, _ in FIELDS["formation.Positionnement"] if native.startswith("dossier.")}


def walked(subject: str, item: dict[str, Any], reading: Reading, prefix: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for native, canonical, kind in FIELDS[subject]:
        value: Any = item
        for part in native.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        if kind not in {"text", "int", "bool"}:
            value = _convert(value, kind, reading, _at(prefix, native), native in _PERSONAL)
            if value is None:
                continue
        *parents, leaf = canonical.split(".")
        target = record
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return record


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["2026-03-02", "2026-02-30", "02/03/2026", " cej ", "F", "", "12.5"]),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def items(draw: st.DrawFn, subject: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for native, _, _ in FIELDS[subject]:
        if draw(st.booleans()):
            imilo_json.put_path(item, native, draw(_VALUES))
    for parent in ("dossier.adresse", "dossier", "session", "conseiller", "structureRattachement"):
        *above, name = parent.split(".")
        holder: Any = item
        for part in above:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and draw(st.integers(0, 9)) == 0:  # now and then a parent that is no object
            holder[name] = draw(st.sampled_from([[], "x", 3, None]))
    return item


@settings(max_examples=300)
@given(st.data(), st.sampled_from(sorted(FIELDS)), st.sampled_from(["", "[2]"]))
def test_the_mapper_reads_what_the_walk_reads(data: st.DataObject, subject: str, prefix: str) -> None:
    item = data.draw(items(subject))
    expected, mapped = Reading(), Reading()
    want = walked(subject, item, expected, prefix)
    assert _mapper(subject)(item, mapped, prefix) == want
    assert list(_mapper(subject)(item, Reading(), prefix)) == list(want)  # the same keys in the same order
    assert mapped.problems == expected.problems
