"""LHEO ingestion: sessions/s and peak RSS of the whole inbound path against a raw lxml count.

Each contender runs in a fresh process so that its peak RSS (``VmHWM``) is its
own. Passerelle's path is what ``passerelle ingest lheo`` and the region
adapter do together, minus the broker: split the feed into documents of whole
formations, parse each, validate every session against the contract, encode
it in Avro and wrap it in its envelope. The baseline only counts ``session``
elements with ``iterparse``, clearing them as it goes.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import fastavro
from lxml import etree

from bench.harness import Figure, Report, proc_status_mb
from passerelle.settings import PROJECT_ROOT

FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures" / "lheo"
PARTNER = "region-24"
SUBJECT = "formation.OffreSession"


def _peak_rss_mb() -> float:
    return proc_status_mb("self", "VmHWM")


def raw_count(path: Path) -> dict[str, Any]:
    """The least a streaming reader can do: each formation, count its sessions, free it."""
    started = time.perf_counter()
    sessions = 0
    for _event, formation in etree.iterparse(str(path), events=("end",), tag="{*}formation", huge_tree=True):
        sessions += sum(1 for _ in formation.iter("{*}session"))
        formation.clear(keep_tail=False)
        parent = formation.getparent()
        if parent is not None:
            while formation.getprevious() is not None:
                del parent[0]
    return {"sessions": sessions, "seconds": time.perf_counter() - started, "peak_mb": _peak_rss_mb()}


def split_stage(path: Path, out: BinaryIO) -> dict[str, Any]:
    """What ``passerelle ingest lheo`` does: cut the feed into documents of whole formations."""
    from passerelle.core.lheo_stream import split_lheo

    started = time.time()
    pieces = 0
    with path.open("rb") as stream:
        for piece in split_lheo(stream):
            out.write(len(piece).to_bytes(4, "big"))
            out.write(piece)
            pieces += 1
    out.flush()
    return {"pieces": pieces, "started": started, "seconds": time.time() - started, "peak_mb": _peak_rss_mb()}


def translate_stage(source: BinaryIO) -> dict[str, Any]:
    """What the region adapter does with each piece: parse, validate, encode, wrap in the envelope."""
    from passerelle.runtime.context import ServiceContext
    from passerelle.runtime.messages import Incoming
    from passerelle.runtime.tally import Tally
    from passerelle.settings import Settings
    from services.adapter.inbound import InboundTranslator
    from services.region_adapter.app import DIALECTS, SERVICE

    settings = Settings(pseudonym_secret="bench", log_level="WARNING")
    translator = InboundTranslator(ServiceContext.build(SERVICE, settings), DIALECTS)
    sessions = rejected = n = 0
    ready = time.time()
    started = 0.0
    while size := source.read(4):
        piece = source.read(int.from_bytes(size, "big"))
        started = started or time.time()
        headers = {"ce_id": f"bench-{n}", "ce_type": "formation.OffreSession"}
        for output in translator.process(Incoming(f"in.{PARTNER}", 0, n, None, piece, headers, (), 0), Tally()):
            if output.topic.startswith("canon."):
                sessions += 1
            else:
                rejected += 1
        n += 1
    ended = time.time()
    return {
        "sessions": sessions,
        "rejected": rejected,
        "ready": ready,
        "started": started,
        "ended": ended,
        "seconds": ended - started,
        "peak_mb": _peak_rss_mb(),
    }


def _per_session(call: Callable[[], object], sessions: int) -> float:
    """µs per session of one pass of ``call`` over the sample, best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        call()
        best = min(best, (time.perf_counter() - started) / sessions * 1e6)
    return best


def stages(path: Path) -> list[tuple[str, float]]:
    """The region adapter's translation of a feed step by step, each step alone over the same pieces, beside the
    bare library call it rests on: what a session costs, and how much of it the raw ``iterparse`` also pays."""
    from passerelle.core.envelope import Envelope, event_type, new_trace_parent
    from passerelle.core.events import Dialect
    from passerelle.core.guard import may_hold_forbidden
    from passerelle.core.lheo_stream import Feed, split_lheo
    from passerelle.core.privacy import normalised_utf8, utf8_holds_nir
    from passerelle.runtime.context import ServiceContext
    from passerelle.runtime.messages import Incoming
    from passerelle.runtime.tally import Tally
    from passerelle.settings import Settings
    from services.adapter.inbound import InboundTranslator
    from services.region_adapter.app import DIALECTS, SERVICE

    with path.open("rb") as stream:
        pieces = list(split_lheo(stream))
    translator = InboundTranslator(ServiceContext.build(SERVICE, Settings(pseudonym_secret="bench")), DIALECTS)
    ctx = translator.ctx
    context = translator._context(ctx.profiles[PARTNER], SUBJECT)
    parse = DIALECTS.parsers[Dialect.LHEO_XML]
    drafts = [d for piece in pieces for d in parse(piece, context) if not hasattr(d, "problems")]
    records = [ctx.typed.validate(SUBJECT, d.record) for d in drafts]
    schema = ctx.catalogue.latest(SUBJECT)
    dataschema = ctx.dataschema(SUBJECT, schema.version)
    n = len(drafts)

    def read() -> None:
        for piece in pieces:
            for _formation in Feed(io.BytesIO(piece)):
                pass

    def guarded() -> None:
        for piece in pieces:
            for formation in Feed(io.BytesIO(piece)):
                data = normalised_utf8(etree.tostring(formation, encoding="unicode", with_tail=False))
                utf8_holds_nir(data) or may_hold_forbidden(data)

    def translated() -> None:
        for piece in pieces:
            for _draft in parse(piece, context):
                pass

    def avro_alone() -> None:
        for record in records:
            fastavro.schemaless_writer(io.BytesIO(), schema.parsed, record)

    def envelopes() -> None:
        for _ in range(n):
            Envelope.new(
                event_type(SUBJECT), PARTNER, event_id="x", traceparent=new_trace_parent(), dataschema=dataschema
            ).to_headers()

    def whole() -> None:
        for i, piece in enumerate(pieces):
            headers = {"ce_id": f"bench-{i}", "ce_type": SUBJECT}
            translator.process(Incoming(f"in.{PARTNER}", 0, i, None, piece, headers, (), 0), Tally())

    reading, guarding, dialect = _per_session(read, n), _per_session(guarded, n), _per_session(translated, n)
    steps = [
        ("lecture XML : lxml iterparse seul (bibliothèque)", reading),
        ("garde : NIR et caractères sur le texte de chaque formation", guarding - reading),
        ("correspondance des champs LHEO, codes et dates", dialect - guarding),
        (
            "validation du contrat (pydantic)",
            _per_session(lambda: [ctx.typed.validate(SUBJECT, d.record) for d in drafts], n),
        ),
        ("Avro : fastavro seul (bibliothèque)", _per_session(avro_alone, n)),
        ("Avro : AvroCodec.encode", _per_session(lambda: [ctx.codec.encode(SUBJECT, r) for r in records], n)),
        ("enveloppe CloudEvents et en-têtes", _per_session(envelopes, n)),
    ]
    ours = [(name, us) for name, us in steps if "fastavro seul" not in name]
    steps.append(("somme des étapes", sum(us for _, us in ours)))
    steps.append(("traduction complète (process)", _per_session(whole, n)))
    return steps


def _child(*args: str, stdin: Any = None, stdout: Any = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.lheo", *args], stdin=stdin, stdout=stdout, cwd=PROJECT_ROOT)


def _result(process: subprocess.Popen[bytes], report_to: Path) -> dict[str, Any]:
    if process.wait() != 0:
        raise RuntimeError(f"{process.args!r} : code {process.returncode}")
    result: dict[str, Any] = json.loads(report_to.read_text())
    return result


def _measure(path: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """Each contender in its own process: raw count, each stage alone, then both stages piped together."""
    pieces = folder / "pieces.bin"
    out = {name: folder / f"{name}.json" for name in ("raw", "split", "translate", "pipe_split", "pipe_translate")}
    results = {"raw": _result(_child("raw", str(path), str(out["raw"])), out["raw"])}
    with pieces.open("wb") as sink:
        results["split"] = _result(_child("split", str(path), str(out["split"]), stdout=sink), out["split"])
    with pieces.open("rb") as source:
        translate = _child("translate", str(out["translate"]), stdin=source)
        results["translate"] = _result(translate, out["translate"])
    splitter = _child("split", str(path), str(out["pipe_split"]), stdout=subprocess.PIPE)
    translator = _child("translate", str(out["pipe_translate"]), stdin=splitter.stdout)
    assert splitter.stdout is not None
    splitter.stdout.close()  # the translator holds the read end now
    results["pipe_split"] = _result(splitter, out["pipe_split"])
    results["pipe_translate"] = _result(translator, out["pipe_translate"])
    return results


def _feed(folder: Path, megabytes: int) -> Path:
    from passerelle.simulation.lheo_feed import write_feed

    path = folder / f"lheo-{megabytes}mo.xml"
    templates = sorted(FIXTURES.glob("*.xml")) if FIXTURES.is_dir() else []
    with path.open("wb") as out:
        write_feed(out, megabytes * 1024 * 1024, seed=megabytes, templates=templates)
    return path


def run(quick: bool = False) -> Report:
    sizes = (5, 10, 20) if quick else (50, 100, 200)
    report = Report("Ingestion LHEO (flux généré)", "python -m bench lheo" + (" --quick" if quick else ""))
    with tempfile.TemporaryDirectory(prefix="bench-lheo-") as folder:
        for megabytes in sizes:
            path = _feed(Path(folder), megabytes)
            r = _measure(path, Path(folder))
            path.unlink()
            total = r["raw"]["sessions"]
            for stage in ("translate", "pipe_translate"):
                if r[stage]["sessions"] != total:
                    raise RuntimeError(f"{megabytes} Mo : {r[stage]['sessions']} sessions traduites sur {total}")
            raw_rate = total / r["raw"]["seconds"]
            split_rate = total / r["split"]["seconds"]
            translate_rate = total / r["translate"]["seconds"]
            # From the moment both processes are ready: the pipe holds only 64 KiB, so neither can run ahead.
            began = max(r["pipe_split"]["started"], r["pipe_translate"]["ready"])
            pipe_rate = total / (r["pipe_translate"]["ended"] - began)
            label = f"{megabytes} Mo, {total} sessions"
            report.add(Figure(f"{label} : iterparse brut", raw_rate, "sessions/s", note="référence"))
            for name, rate, target in (
                ("découpage seul (ingest)", split_rate, None),
                ("traduction seule (region_adapter)", translate_rate, None),
                ("ingest → region_adapter en parallèle", pipe_rate, 0.5),
            ):
                ratio = rate / raw_rate
                met = None if target is None else ratio >= target
                goal = None if target is None else f"≥ {target}×"
                report.add(Figure(f"{label} : {name}", rate, "sessions/s", "iterparse brut", ratio, goal, met))
            report.add(Figure(f"{label} : pic RSS iterparse brut", r["raw"]["peak_mb"], "Mo"))
            for stage, name in (("pipe_split", "ingest"), ("pipe_translate", "region_adapter")):
                peak = r[stage]["peak_mb"]
                report.add(Figure(f"{label} : pic RSS {name}", peak, "Mo", target="< 200 Mo", met=peak < 200))
            report.details[f"{megabytes}mo"] = r
        # Where a session's time goes, step by step, on a smaller feed of the same make.
        sample = _feed(Path(folder), 5 if quick else 10)
        for step, us in stages(sample):
            report.add(Figure(f"traduction, étape : {step}", us, "µs/session"))
    report.details["templates"] = "fixtures LHEO réelles" if FIXTURES.is_dir() else "gabarits générés"
    return report


def _main(argv: list[str]) -> None:
    kind, args = argv[0], argv[1:]
    if kind == "raw":
        outcome = raw_count(Path(args[0]))
    elif kind == "split":
        outcome = split_stage(Path(args[0]), sys.stdout.buffer)
    else:
        outcome = translate_stage(sys.stdin.buffer)
    Path(args[-1]).write_text(json.dumps(outcome))


if __name__ == "__main__":
    _main(sys.argv[1:])
