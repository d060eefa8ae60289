"""The translation alone: each hop's processor on records already in memory, no broker, no client.

This is the ceiling a hop cannot pass whatever its Kafka client: one message's translation work (parse, NIR
guard, mapping, pseudonym, contract validation, views, audit, Avro, envelope). The two chains of ``one_hop``
are played offline, each hop's input being the previous hop's real output, so the records are the ones the
hops meet in production. Each hop's hottest functions (cProfile, own time) say where the microseconds go.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastavro
import orjson

from bench.harness import Figure, Report
from bench.one_hop import CHAINS, HopCase
from passerelle.core.envelope import Envelope, event_type, header_dict, new_trace_parent
from passerelle.core.events import Dialect
from passerelle.core.native_json import read_json
from passerelle.logging import configure
from passerelle.runtime.audit import write_key_pair
from passerelle.runtime.collector import tune_collector
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.passes import SLICE, Processor, translate
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from passerelle.stack.deployables import build_service
from services.adapter.service import AdapterProcessor

# The budget for one I-MILO Positionnement's translation.
TARGET_US = {"milo_adapter in.imilo → canon": 40.0}
_TIMESTAMP_MS = 1_764_000_000_000


def hop_processor(settings: Settings, case: HopCase) -> Processor:
    runtime = build_service(case.service, settings)
    tune_collector(settings.gc_young_threshold)  # as the service's start does
    return next(h for h in runtime.hops if case.source in h.spec.inputs).processor


def first_inputs(native: Callable[[random.Random, int], bytes], source: str, n: int) -> list[Incoming]:
    """``n`` different native messages of a chain, as its first hop reads them (the same ones in every run)."""
    rng = random.Random(7)
    return [
        Incoming(source, 0, i, None, native(rng, i), {"ce_id": f"b-{i}"}, (("ce_id", f"b-{i}".encode()),), 0)
        for i in range(n)
    ]


def bench_settings(folder: Path) -> Settings:
    """Settings of a service built offline, with an audit key of its own in ``folder``."""
    keys = write_key_pair(folder)
    return Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="bench", audit_signing_key_file=keys.signing)


def _as_input(output: Output, offset: int) -> Incoming:
    raw = tuple((k, v) for k, v in output.headers)
    text = header_dict(raw)
    return Incoming(output.topic, 0, offset, output.key, output.value, text, raw, _TIMESTAMP_MS)


def following_inputs(outputs: list[Output]) -> list[Incoming]:
    """The next hop's inputs: what a hop wrote on the chain (not its dead letters, feedback or audit)."""
    following = [o for o in outputs if not o.topic.startswith(("dlq.", "audit.", "feedback."))]
    return [_as_input(o, i) for i, o in enumerate(following)]


def each_hop(settings: Settings, n: int) -> Iterator[tuple[HopCase, Processor, list[Incoming]]]:
    """Every hop of both chains, built as its service builds it, with ``n`` inputs: the chain's native messages
    for its first hop, the previous hop's real outputs for the others."""
    for native, source, cases in CHAINS.values():
        messages = first_inputs(native, source, n)
        for case in cases:
            processor = hop_processor(settings, case)
            yield case, processor, messages
            messages = following_inputs(process_all(processor, messages))


def _batches(messages: list[Incoming]) -> list[list[Incoming]]:
    """The hop's batches: it keeps one tally per batch, not per message."""
    size = Settings.model_fields["batch_max_records"].default
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def process_all(processor: Processor, messages: list[Incoming], slice_size: int = SLICE) -> list[Output]:
    produced: list[Output] = []
    for batch in _batches(messages):
        tally = Tally()
        for _message, outputs in translate(processor, batch, tally, slice_size):
            assert not isinstance(outputs, Exception), outputs
            produced.extend(outputs)
    return produced


def _timed(processor: Processor, messages: list[Incoming]) -> float:
    """µs per message of the best of three passes (the others are warm-up and noise)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        process_all(processor, messages)
        best = min(best, (time.perf_counter() - started) / len(messages) * 1e6)
    return best


def _hottest(processor: Processor, messages: list[Incoming], top: int = 8) -> list[list[Any]]:
    """The functions with the most own time, as a share of the whole translation."""
    profiler = cProfile.Profile()
    profiler.enable()
    process_all(processor, messages)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # pstats keeps its table untyped
    total = sum(entry[2] for entry in stats.values()) or 1.0
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [
        [f"{Path(file).name}:{line}({name})", round(entry[2] / total * 100, 1)] for (file, line, name), entry in ranked
    ]


def per_call(call: Callable[[], object], repeat: int) -> float:
    """µs per call, best of three rounds."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        best = min(best, (time.perf_counter() - started) / repeat * 1e6)
    return best


def milo_stages(processor: Processor, message: Incoming, repeat: int) -> list[tuple[str, float]]:
    """One I-MILO Positionnement's translation step by step, each step alone on the real message, beside the bare
    library call it rests on: what the 40 µs budget has to hold, and how much of it is ours."""
    assert isinstance(processor, AdapterProcessor)
    inbound = processor.inbound
    ctx = inbound.ctx
    context = inbound._context(ctx.profiles["imilo"], None)
    parse = inbound.dialects.parsers[Dialect.IMILO_JSON]
    payload = message.value
    [draft] = list(parse(payload, context))
    assert not hasattr(draft, "problems"), draft
    subject = draft.subject
    record = ctx.typed.validate(subject, draft.record)
    schema = ctx.catalogue.latest(subject)
    dataschema = ctx.dataschema(subject, schema.version)

    def envelope() -> object:
        made = Envelope.new(
            event_type(subject), "imilo", event_id="x", traceparent=new_trace_parent(), dataschema=dataschema
        )
        return made.to_headers()

    def avro_alone() -> object:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema.parsed, record)
        return out.getvalue()

    read = per_call(lambda: read_json(payload, inbound.limits), repeat)
    parsed = per_call(lambda: list(parse(payload, context)), repeat)
    whole = per_call(lambda: processor.process(message, Tally()), repeat)
    steps = [
        ("JSON : orjson.loads seul (bibliothèque)", per_call(lambda: orjson.loads(payload), repeat)),
        ("JSON : lecture et contrôles (NIR, caractères, clés en double)", read),
        ("correspondance des champs, dates, pseudonyme", parsed - read),
        ("validation du contrat (pydantic)", per_call(lambda: ctx.typed.validate(subject, draft.record), repeat)),
        ("Avro : fastavro seul (bibliothèque)", per_call(avro_alone, repeat)),
        ("Avro : AvroCodec.encode", per_call(lambda: ctx.codec.encode(subject, record), repeat)),
        ("enveloppe CloudEvents et en-têtes", per_call(envelope, repeat)),
    ]
    ours = [(name, us) for name, us in steps if "seul" not in name]
    steps.append(("somme des étapes", sum(us for _, us in ours)))
    steps.append(("traduction complète (process)", whole))
    return steps


def run(quick: bool = False) -> Report:
    configure("console", "WARNING")
    n = 2_000 if quick else 20_000
    report = Report("Traduction seule, sans broker (plafond de chaque saut)", "python -m bench translation")
    report.details["profiler"] = "cProfile, temps propre de chaque fonction, part de la traduction du saut"
    report.details["profile"] = {}
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        for case, processor, messages in each_hop(bench_settings(Path(folder)), n):
            per_message = _timed(processor, messages)
            target = TARGET_US.get(case.label)
            report.add(
                Figure(
                    f"{case.label} : traduction",
                    per_message,
                    "µs/message",
                    target=f"≤ {target:.0f} µs" if target else None,
                    met=per_message <= target if target else None,
                )
            )
            report.add(Figure(f"{case.label} : plafond", 1e6 / per_message, "msg/s"))
            report.details["profile"][case.label] = _hottest(processor, messages[: min(n, 5_000)])
            if case.label in TARGET_US:
                for step, us in milo_stages(processor, messages[0], 2_000 if quick else 20_000):
                    report.add(Figure(f"{case.label} : étape, {step}", us, "µs/message"))
    return report
