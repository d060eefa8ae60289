"""``translate``: a batch read slice by slice before it is written gives each input exactly what ``process`` gives it.

The real processors (the I-MILO adapter both ways, the router with its audit chain) are run on the same batch
once message by message and once in passes: same outputs, same order, same refusals. A recording processor shows
the passes themselves: every read of a slice, then every step between, before its writes, slices bounded in count
and bytes, and a bug in one input's read, step or write kept to that input.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
from hypothesis import given
from hypothesis import strategies as st

from bench.records import native_positionnement
from passerelle.runtime.audit import SIGNING_FILE, write_key_pair
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.passes import SLICE, SLICE_BYTES, InPasses, Processor, ReadThenWrite, translate
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from passerelle.stack.deployables import build_service


def _incoming(topic: str, offset: int, value: bytes, headers: dict[str, str] | None = None) -> Incoming:
    text = {"ce_id": f"m-{offset}", **(headers or {})}
    raw = tuple((k, v.encode()) for k, v in text.items())
    return Incoming(topic, 0, offset, f"k-{offset}".encode(), value, text, raw, 1_764_000_000_000)


class Recorder(ReadThenWrite):
    """Three passes over values; b"read!" breaks in ``read``, b"check!" in the step between, b"write!" in ``write``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.between = (self.check,)

    def read(self, message: Incoming, _tally: Tally) -> bytes:
        self.calls.append(("read", message.offset))
        if message.value == b"read!":
            raise ValueError("read")
        return message.value.upper()

    def check(self, message: Incoming, read: bytes, _tally: Tally) -> bytes:
        self.calls.append(("check", message.offset))
        if message.value == b"check!":
            raise TypeError("check")
        return read + b"."

    def write(self, message: Incoming, read: bytes, _tally: Tally) -> list[Output]:
        self.calls.append(("write", message.offset))
        if message.value == b"write!":
            raise KeyError("write")
        return [Output("out", read, message.key, [])]


class OneStep:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def process(self, message: Incoming, _tally: Tally) -> list[Output]:
        self.calls.append(message.offset)
        return [Output("out", message.value, message.key, [])]


def test_the_hops_processors_read_in_passes() -> None:
    assert isinstance(Recorder(), InPasses) and not isinstance(OneStep(), InPasses)


def test_process_is_the_passes_for_one_message() -> None:
    recorder = Recorder()
    assert [o.value for o in recorder.process(_incoming("in", 0, b"a"), Tally())] == [b"A."]
    assert recorder.calls == [("read", 0), ("check", 0), ("write", 0)]


@given(st.lists(st.integers(min_value=0, max_value=SLICE_BYTES // 3), max_size=3 * SLICE))
def test_each_slice_is_read_whole_then_written_and_is_bounded(sizes: list[int]) -> None:
    recorder = Recorder()
    batch = [_incoming("in", i, b"x" * size) for i, size in enumerate(sizes)]
    results = list(translate(recorder, batch, Tally()))
    assert [m.offset for m, _ in results] == list(range(len(batch)))
    slices: list[list[int]] = []
    for (step, offset), previous in zip(recorder.calls, [("write", -1), *recorder.calls], strict=False):
        if step == "read" and previous[0] == "write":
            slices.append([])
        if step == "read":
            slices[-1].append(offset)
    assert [o for s in slices for o in s] == list(range(len(batch)))
    for part in slices:
        # Each pass over the whole slice, in input order, before the next pass starts.
        start = recorder.calls.index(("read", part[0]))
        expected = [(step, i) for step in ("read", "check", "write") for i in part]
        assert recorder.calls[start : start + len(expected)] == expected
        weight = sum(sizes[i] for i in part)
        assert len(part) <= SLICE
        assert weight - sizes[part[-1]] < SLICE_BYTES  # only the input that crossed the bound is past it
        # Whole slices: one ended only because it was full, by count or by weight, or it was the last.
        assert part[-1] == len(batch) - 1 or len(part) == SLICE or weight >= SLICE_BYTES


def test_a_bug_in_one_inputs_read_step_or_write_is_that_inputs_alone() -> None:
    values = [b"a", b"read!", b"b", b"check!", b"write!", b"c"]
    recorder = Recorder()
    results = list(translate(recorder, [_incoming("in", i, v) for i, v in enumerate(values)], Tally()))
    assert [type(r).__name__ if isinstance(r, Exception) else [o.value for o in r] for _, r in results] == [
        [b"A."],
        "ValueError",
        [b"B."],
        "TypeError",
        "KeyError",
        [b"C."],
    ]
    # An input broken in a pass goes through none of the passes after it.
    assert ("check", 1) not in recorder.calls and ("write", 1) not in recorder.calls
    assert ("write", 3) not in recorder.calls


def test_a_one_step_processor_is_run_message_by_message() -> None:
    processor = OneStep()
    results = list(translate(processor, [_incoming("in", i, b"v") for i in range(3)], Tally()))
    assert processor.calls == [0, 1, 2] and [m.offset for m, _ in results] == [0, 1, 2]


def _service(name: str, folder: Path) -> Processor:
    """A new instance of service ``name``, signing with the key pair kept in ``folder``."""
    signing = folder / SIGNING_FILE
    if not signing.exists():
        write_key_pair(folder)
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="test", audit_signing_key_file=signing)
    [hop] = build_service(name, settings).hops
    return hop.processor


def _one_by_one(processor: Processor, batch: list[Incoming]) -> list[list[Output]]:
    tally = Tally()
    return [processor.process(m, tally) for m in batch]


def _in_passes(processor: Processor, batch: list[Incoming]) -> list[list[Output]]:
    results = list(translate(processor, batch, Tally()))
    assert not [r for _, r in results if isinstance(r, Exception)]
    return [r for _, r in results if not isinstance(r, Exception)]


def _imilo_batch() -> list[Incoming]:
    """Valid positionnements among refusals of every stage: unreadable, NIR, contract, unknown event."""
    rng = random.Random(3)
    trace = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    values = [native_positionnement(rng, i) for i in range(2 * SLICE + 5)]
    values[3] = b'{"typeEvenement": '
    values[9] = values[9].replace(b'"Martin"', b'"1 84 12 76 451 089 46"')
    values[70] = orjson.dumps(orjson.loads(values[70]) | {"codeRomeVise": "ZZZ"})
    values[100] = orjson.dumps(orjson.loads(values[100]) | {"typeEvenement": "formation.Inconnu"})
    return [_incoming("in.imilo", i, v, trace) for i, v in enumerate(values)]


# What differs between two runs on the same input: the moment a refusal or an audit record was written, the
# audit record's signature and links, which depend on that moment, and each delivery's new span in the trace.
_MOMENTS = {"ce_time", "passerelle_error_time", "horodatage", "signature", "hash", "hashPrecedent"}


def _header(key: str, value: bytes) -> tuple[str, bytes]:
    return (key, value.split(b"-")[1]) if key == "traceparent" else (key, value)


def comparable(results: list[list[Output]]) -> list[tuple[str, bytes | None, object, object]]:
    def value(output: Output) -> object:
        if not output.topic.startswith(("feedback.", "audit.")):
            return output.value
        return {k: v for k, v in orjson.loads(output.value).items() if k not in _MOMENTS}

    return [
        (o.topic, o.key, value(o), [_header(k, v) for k, v in o.headers if k not in _MOMENTS])
        for outputs in results
        for o in outputs
    ]


def test_the_milo_adapter_gives_the_same_outputs_in_passes(tmp_path: Path) -> None:
    batch = _imilo_batch()
    expected = _one_by_one(_service("milo-adapter", tmp_path / "a"), batch)
    assert comparable(_in_passes(_service("milo-adapter", tmp_path / "b"), batch)) == comparable(expected)
    topics = [o.topic for outputs in expected for o in outputs]
    assert topics.count("dlq.milo_adapter") == 4 and topics.count("canon.formation.Positionnement") == len(batch) - 4


def test_the_router_gives_the_same_deliveries_and_audit_chain_in_passes(tmp_path: Path) -> None:
    milo = _service("milo-adapter", tmp_path / "m")
    canonical = [o for outputs in _one_by_one(milo, _imilo_batch()) for o in outputs if o.topic.startswith("canon.")]
    batch = [_incoming(o.topic, i, o.value) for i, o in enumerate(canonical)]
    batch = [
        Incoming(m.topic, 0, m.offset, o.key, o.value, {k: v.decode() for k, v in o.headers}, tuple(o.headers), 0)
        for m, o in zip(batch, canonical, strict=True)
    ]
    expected = _one_by_one(_service("router", tmp_path / "keys"), batch)
    assert comparable(_in_passes(_service("router", tmp_path / "keys"), batch)) == comparable(expected)
    assert {o.topic for each in expected for o in each} >= {"deliver.region-24", "audit.deliveries"}
