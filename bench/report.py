"""``python -m bench.report``: copy the figures of the last full run (bench/results/*.json) into docs/performance.md.

Each suite's table sits between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``; the prose around it
is written by hand, the numbers never are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.harness import RESULTS

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def _number(value: float) -> str:
    text = f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
    return text.replace(",", " ")


def table(result: dict[str, Any]) -> str:
    lines = [
        (
            f"Run of {result['date']} on {result['machine']['cpus']} cores, Python {result['machine']['python']}: "
            f"`{result['command']}`"
        ),
        "",
        "| measure | value | unit | baseline (same run) | ratio | target | met |",
        "|---|---:|---|---|---:|---|---|",
    ]
    for f in result["figures"]:
        ratio = f"{f['ratio']:.3g}×" if f["ratio"] is not None else ""
        met = "" if f["met"] is None else ("yes" if f["met"] else "**no**")
        name = f["name"].replace("|", "\\|")
        lines.append(
            f"| {name} | {_number(f['value'])} | {f['unit']} | {f['baseline'] or ''} | {ratio} "
            f"| {f['target'] or ''} | {met} |"
        )
    lines += _saturation(result["details"].get("saturation") or [])
    lines += _profile(result["details"].get("profile") or {}, result["details"].get("profiler"))
    lines += _profile(result["details"].get("broker_profile") or {}, _BROKER_PROFILER)
    return "\n".join(lines)


def _saturation(steps: list[dict[str, Any]]) -> list[str]:
    if not steps:
        return []
    # The broker's share is "broker" (the sum of its nodes), or "tansu" in runs from before --broker.
    services = [n for n in steps[0]["cpu_percent"] if n not in ("tansu", "broker") and not n.startswith("kafka-")]
    lines = [
        "",
        (
            "Saturation steps (CPU in % of one core over the step; where measured, `banc` is the load generator "
            "and the receiver, `machine` every process and the kernel together, out of 100 per core):"
        ),
        "",
        "| msg/s | sent | received | p99 (ms) | broker CPU | " + " | ".join(services) + " | held |",
        "|---:|---:|---:|---:|---:|" + "---:|" * len(services) + "---|",
    ]
    for step in steps:
        cpu = step["cpu_percent"]
        lines.append(
            f"| {step['rate']} | {step['sent']} | {step['received']} | {step['p99_ms']:.0f} "
            f"| {cpu.get('broker', cpu.get('tansu'))} | "
            + " | ".join(str(cpu[name]) for name in services)
            + f" | {'yes' if step['held'] else 'no'} |"
        )
    return lines


_BROKER_PROFILER = "Java Flight Recorder at the same rate: each Kafka node's CPU samples by kind of work"


def _profile(hottest: dict[str, list[list[Any]]], profiler: str | None = None) -> list[str]:
    if not hottest:
        return []
    heading = profiler or "py-spy, highest step: each service's hottest functions (share of its busy samples)"
    lines = ["", f"{heading}:", ""]
    for service, frames in hottest.items():
        top = ", ".join(f"{frame} {share:.0f} %" for frame, share in frames[:5])
        lines.append(f"- **{service}**: {top}")
    return lines


def update(doc: str, results: Path = RESULTS) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        path = results / f"{name}.json"
        if not path.exists():
            return match.group(0)
        body = table(json.loads(path.read_text(encoding="utf-8")))
        return f"<!-- figures:{name} -->\n{body}\n<!-- /figures:{name} -->"

    return re.sub(r"<!-- figures:([\w-]+) -->.*?<!-- /figures:\1 -->", replace, doc, flags=re.S)


def main() -> None:
    DOC.write_text(update(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"{DOC} mis à jour depuis {RESULTS}")


if __name__ == "__main__":
    main()
