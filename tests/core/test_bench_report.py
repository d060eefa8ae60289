"""docs/performance.md takes its tables from the benchmark results, never from a hand."""

from __future__ import annotations

import json
from pathlib import Path

from bench.harness import Figure, Report
from bench.report import update


def test_figures_are_copied_between_their_markers_and_nothing_else_moves(tmp_path: Path) -> None:
    report = Report("Codec", "python -m bench codec")
    report.add(Figure("AvroCodec.encode", 66_726.2, "records/s", "fastavro", 0.97, "≥ 0.8×", True))
    report.add(Figure("AvroCodec.decode", 50_000.0, "records/s", "fastavro", 0.70, "≥ 0.8×", False))
    data = {"machine": {"cpus": 2, "python": "3.11.7"}, "date": "2026-11-26T22:00:00+00:00", **report.__dict__}
    data["figures"] = [f.__dict__ for f in report.figures]
    (tmp_path / "codec.json").write_text(json.dumps(data), encoding="utf-8")
    doc = (
        "intro\n<!-- figures:codec -->\nold table\n<!-- /figures:codec -->\n"
        "<!-- figures:lheo -->\n<!-- /figures:lheo -->\n"
    )

    updated = update(doc, tmp_path)

    assert updated.startswith("intro\n<!-- figures:codec -->\nRun of 2026-11-26")
    assert "old table" not in updated
    assert "| AvroCodec.encode | 66 726 | records/s | fastavro | 0.97× | ≥ 0.8× | yes |" in updated
    assert "| AvroCodec.decode | 50 000 | records/s | fastavro | 0.7× | ≥ 0.8× | **no** |" in updated
    assert updated.endswith("<!-- figures:lheo -->\n<!-- /figures:lheo -->\n")  # no result: left as it was
