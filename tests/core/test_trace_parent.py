"""New W3C trace parents: well formed, never the all-zero ids the standard calls invalid, different each time."""

from __future__ import annotations

import random

import pytest

from passerelle.core.envelope import child_trace_parent, new_trace_parent, trace_id


def test_a_new_trace_parent_is_well_formed_and_new() -> None:
    parents = {new_trace_parent() for _ in range(1000)}
    assert len(parents) == 1000
    for parent in parents:
        version, trace, span, flags = parent.split("-")
        assert (version, flags, len(trace), len(span)) == ("00", "01", 32, 16)
        assert trace_id(parent) == trace
        assert trace_id(child_trace_parent(parent)) == trace


@pytest.mark.parametrize("zeros", [range(16), range(16, 24)], ids=["trace id", "span id"])
def test_all_zero_ids_are_drawn_again(monkeypatch: pytest.MonkeyPatch, zeros: range) -> None:
    draws = [bytes(0 if i in zeros else 7 for i in range(24)), bytes(range(1, 25))]
    monkeypatch.setattr(random, "randbytes", lambda _n: draws.pop(0))
    assert new_trace_parent() == f"00-{bytes(range(1, 17)).hex()}-{bytes(range(17, 25)).hex()}-01"
