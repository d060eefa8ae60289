"""``python -m bench.sequence [messages]``: the I-MILO Positionnement's translation, step by step and whole.

The same distinct messages go through the I-MILO inbound hop's translation twice: ``staged``, each step in its
own pass over every message (read and checks, mapping, contract validation, Avro, envelope), and ``composed``, the
hop's own ``process`` message by message, which does those steps and the few lookups between them. Timed, the
composed run takes longer than the passes summed. Under valgrind's cachegrind (``--count``) each variant is run
again in a child process, beside a run that only builds the service: the instructions each executes show whether
that difference is work the steps do not do (more instructions) or the same work run slower (the same
instructions, more cache misses).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cachegrind import count, require_valgrind
from bench.one_hop import CHAINS
from bench.translation import bench_settings, first_inputs, hop_processor, per_call
from passerelle.core.dialect import Draft
from passerelle.core.envelope import Envelope, event_type, new_trace_parent
from passerelle.core.events import Dialect
from passerelle.core.native_json import read_json
from passerelle.logging import configure
from passerelle.runtime.messages import Incoming
from passerelle.runtime.passes import translate
from passerelle.runtime.tally import Tally
from services.adapter.service import AdapterProcessor

VARIANTS = ("setup", "staged", "composed")
READ = "lecture JSON et contrôles (NIR, caractères, clés en double)"
MAPPED = "lecture, contrôles, correspondance des champs, dates, pseudonyme"


def _processor(folder: Path) -> AdapterProcessor:
    processor = hop_processor(bench_settings(folder), CHAINS["positionnement"][2][0])
    assert isinstance(processor, AdapterProcessor)
    return processor


def _messages(n: int) -> list[Incoming]:
    native, source, _cases = CHAINS["positionnement"]
    return first_inputs(native, source, n)


def _steps(processor: AdapterProcessor, messages: list[Incoming]) -> list[tuple[str, Callable[[], object]]]:
    """Each step as one pass over every message, fed with the previous step's real output."""
    inbound = processor.inbound
    ctx = inbound.ctx
    context = inbound._context(ctx.profiles["imilo"], None)
    parse = inbound.dialects.parsers[Dialect.IMILO_JSON]
    payloads = [m.value for m in messages]
    drafts = [d for p in payloads for d in parse(p, context) if isinstance(d, Draft)]
    assert len(drafts) == len(messages), "every generated message translates"
    subject = drafts[0].subject
    records = [ctx.typed.validate(subject, d.record) for d in drafts]
    dataschema = ctx.dataschema(subject, ctx.catalogue.latest(subject).version)

    def envelopes() -> object:
        return [
            Envelope.new(
                event_type(subject),
                "imilo",
                event_id=f"e-{m.offset}",
                correlation_id=m.input_id,
                traceparent=new_trace_parent(),
                dataschema=dataschema,
            ).to_headers()
            for m in messages
        ]

    def read() -> object:
        return [read_json(p, inbound.limits) for p in payloads]

    def mapped() -> object:
        return [list(parse(p, context)) for p in payloads]

    def validated() -> object:
        return [ctx.typed.validate(subject, d.record) for d in drafts]

    def encoded() -> object:
        return [ctx.codec.encode(subject, r) for r in records]

    return [
        (READ, read),
        (MAPPED, mapped),
        ("validation du contrat", validated),
        ("Avro", encoded),
        ("enveloppe CloudEvents et en-têtes", envelopes),
    ]


def _composed(processor: AdapterProcessor, messages: list[Incoming]) -> object:
    return [processor.process(m, Tally()) for m in messages]


def _in_passes(processor: AdapterProcessor, messages: list[Incoming]) -> object:
    """As the hop runs it: each slice of the batch read whole, then written."""
    return list(translate(processor, messages, Tally()))


def _best_us(run: Callable[[], object], n: int) -> float:
    """µs per message of a pass over ``n`` messages, best of three."""
    return per_call(run, 1) / n


def timed(n: int) -> None:
    messages = _messages(n)
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        processor = _processor(Path(folder))
        alone = {name: _best_us(run, n) for name, run in _steps(processor, messages)}
        whole = _best_us(lambda: _composed(processor, messages), n)
        passes = _best_us(lambda: _in_passes(processor, messages), n)
    print(f"{n} messages I-MILO distincts, µs par message (meilleur de 3 passages)")
    for name, us in alone.items():
        print(f"  {name:<72} {us:7.1f}")
    # The mapping's pass includes the reading: the steps summed are the mapping's pass and those after it.
    summed = sum(us for name, us in alone.items() if name != READ)
    print(f"  {'les étapes, chacune dans sa passe, additionnées':<72} {summed:7.1f}")
    print(f"  {'traduction complète (process), message par message':<72} {whole:7.1f}")
    print(f"  {'traduction complète, comme le saut : lue puis écrite par tranches':<72} {passes:7.1f}")


def run_variant(variant: str, n: int) -> None:
    """What a cachegrind child runs: the service built and the passes' inputs prepared, as in every variant, then
    one variant once (``setup``: nothing more), so that a variant less ``setup`` is that variant's work alone."""
    messages = _messages(n)
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as folder:
        processor = _processor(Path(folder))
        steps = _steps(processor, messages)
        if variant == "staged":
            for name, step in steps:
                if name != READ:  # the mapping's pass reads the JSON too
                    step()
        elif variant == "composed":
            _composed(processor, messages)


def counted(n: int) -> None:
    require_valgrind()
    runs = {variant: count("bench.sequence", "--variant", variant, str(n)) for variant in VARIANTS}
    base = runs["setup"]
    print(f"cachegrind, {n} messages, par message (au-delà de la construction du service) :")
    print(f"  {'':<12}" + "".join(f"{key:>14}" for key in base))
    for variant in ("staged", "composed"):
        per: dict[str, Any] = {k: (runs[variant][k] - base[k]) / n for k in base}
        print(f"  {variant:<12}" + "".join(f"{per[key]:>14,.0f}" for key in base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", nargs="?", type=int, default=20_000)
    parser.add_argument("--count", action="store_true", help="instructions and cache misses under cachegrind")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure("console", "WARNING")
    if args.variant:
        run_variant(args.variant, args.messages)
    elif args.count:
        counted(args.messages)
    else:
        timed(args.messages)


if __name__ == "__main__":
    main()
