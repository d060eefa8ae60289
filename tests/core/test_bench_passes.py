"""``bench.passes``: the two-pass shape it measures against runs the very same steps, and every hop is compared."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench.one_hop import CHAINS
from bench.passes import Fused, compare, slice_sizes
from bench.translation import bench_settings, first_inputs, hop_processor, process_all
from passerelle.runtime.passes import InPasses
from tests.runtime.test_passes import comparable


def test_the_fused_processor_gives_what_the_passes_give() -> None:
    native, source, cases = CHAINS["positionnement"]
    messages = first_inputs(native, source, 150)
    with tempfile.TemporaryDirectory() as folder:
        processor = hop_processor(bench_settings(Path(folder)), cases[0])
        assert isinstance(processor, InPasses) and len(processor.between) >= 2
        fused, own = (comparable([process_all(p, messages)]) for p in (Fused(processor), processor))
    # The inputs carry no trace: each output starts one of its own.
    assert [_untraced(o) for o in fused] == [_untraced(o) for o in own]
    assert len(fused) == len(messages)


def _untraced(output: tuple[str, bytes | None, object, object]) -> tuple[object, ...]:
    topic, key, value, headers = output
    assert isinstance(headers, list)
    return topic, key, value, [h for h in headers if h[0] != "traceparent"]


def test_every_hop_is_compared(capsys: pytest.CaptureFixture[str]) -> None:
    compare(20)
    printed = capsys.readouterr().out
    for _native, _source, cases in CHAINS.values():
        for case in cases:
            assert case.label in printed


def test_slice_sizes_are_compared(capsys: pytest.CaptureFixture[str]) -> None:
    slice_sizes(10, [3, 7])
    printed = capsys.readouterr().out
    assert all(case.label in printed for _n, _s, cases in CHAINS.values() for case in cases)
