"""Codec: encode/decode records/s of the canonical codec against raw fastavro schemaless on the same records."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable

import fastavro

from bench.harness import Figure, Report
from bench.records import positionnement
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import HEADER_SIZE, AvroCodec
from passerelle.settings import Settings

SUBJECT = "formation.Positionnement"


def _rate(fn: Callable[[], None], count: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return count / best


def run(quick: bool = False) -> Report:
    count = 5_000 if quick else 50_000
    catalogue = Catalogue.load(Settings().schemas_dir)
    codec = AvroCodec(catalogue)
    parsed = catalogue.latest(SUBJECT).parsed
    rng = random.Random(7)
    records = [positionnement(rng, i) for i in range(count)]
    encoded = [codec.encode(SUBJECT, r) for r in records]
    bodies = [e[HEADER_SIZE:] for e in encoded]

    def raw_encode() -> None:
        for r in records:
            out = io.BytesIO()
            fastavro.schemaless_writer(out, parsed, r)
            out.getvalue()

    def our_encode() -> None:
        for r in records:
            codec.encode(SUBJECT, r)

    def raw_decode() -> None:
        for b in bodies:
            fastavro.schemaless_reader(io.BytesIO(b), parsed, None)

    def our_decode() -> None:
        for e in encoded:
            codec.decode(e)

    report = Report("Codec Avro (format Confluent)", "python -m bench codec" + (" --quick" if quick else ""))
    for name, ours, raw in (("encode", our_encode, raw_encode), ("decode", our_decode, raw_decode)):
        base = _rate(raw, count)
        mine = _rate(ours, count)
        report.add(Figure(f"fastavro schemaless {name}", base, "records/s"))
        ratio = mine / base
        report.add(
            Figure(f"AvroCodec.{name}", mine, "records/s", f"fastavro schemaless {name}", ratio, "≥ 0.8×", ratio >= 0.8)
        )
    return report
