"""``bench.instructions``: each hop is counted on the inputs it meets in the chain, and only its own work."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import instructions
from bench.translation import process_all


@pytest.mark.parametrize("label", instructions.LABELS)
def test_each_hop_gets_the_previous_hops_outputs_and_translates_them(label: str, tmp_path: Path) -> None:
    processor, messages = instructions._hop(label, 5, tmp_path)
    assert len(messages) == 5
    outputs = process_all(processor, messages)
    assert outputs and not [o.topic for o in outputs if o.topic.startswith(("dlq.", "feedback."))]


def test_a_hop_is_its_translation_less_the_chain_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    counted = {"chain": 7_000_000, "hop": 9_000_000}
    monkeypatch.setattr(instructions, "count", lambda *args, **_: {"I refs": counted[args[args.index("--stage") + 1]]})
    assert instructions.per_message(instructions.LABELS[1], 1_000) == 2_000


def test_an_unknown_hop_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="saut inconnu"):
        instructions._hop("nulle part", 1, tmp_path)
