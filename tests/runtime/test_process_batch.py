"""``Hop.process_batch`` with a fake processor: order, duplicates, a processor bug, and what it settles.

Building a hop creates FastStream's broker object but never connects: these tests need no broker.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.headers import CAUSE, REPLAY
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.hop import Hop, HopSpec, call_hook
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from tests.logs import captured_logs

SETTINGS = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x")


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    # Captured, not printed: a CLI test earlier in the session may have left structlog writing to a closed stream.
    with captured_logs() as captured:
        yield captured


def incoming(value: bytes, ce_id: str, topic: str = "in.imilo", offset: int = 0, replay: str | None = None) -> Incoming:
    headers = {"ce_id": ce_id, "ce_type": "formation.Positionnement", "ce_source": "imilo"}
    if replay:
        headers[REPLAY] = replay
    raw = tuple((k, v.encode()) for k, v in headers.items())
    return Incoming(topic, 0, offset, ce_id.encode(), value, headers, raw, 0)


class Upper:
    """Uppercases each value; b"boom" is a bug in the processor. Remembers what it was given."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        self.seen.append(message.value)
        if message.value == b"boom":
            raise RuntimeError("bug")
        tally.count("in", "imilo", "formation.Positionnement", "ok")
        cause = [(CAUSE, message.dedupe_key.encode())]
        return [Output("canon.formation.Positionnement", message.value.upper(), message.key, cause)]


class UpperInPasses(Upper):
    """The same in two passes: b"boom" breaks while it is read, before anything of its slice is written."""

    def read(self, message: Incoming, tally: Tally) -> Incoming:
        self.seen.append(message.value)
        if message.value == b"boom":
            raise RuntimeError("bug")
        return message

    def write(self, message: Incoming, read: Incoming, tally: Tally) -> list[Output]:
        tally.count("in", "imilo", "formation.Positionnement", "ok")
        return [
            Output(
                "canon.formation.Positionnement",
                read.value.upper(),
                message.key,
                [(CAUSE, message.dedupe_key.encode())],
            )
        ]


class Hooked(Upper):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def commit(self) -> None:
        self.calls.append("commit")

    def rollback(self) -> None:
        self.calls.append("rollback")


OUTPUTS = ("canon.formation.Positionnement", "feedback.imilo", "dlq.milo_adapter")


def hop(processor: Upper, outputs: Sequence[str] = OUTPUTS, inputs: Sequence[str] = ("in.imilo",)) -> Hop:
    # Each hop its own metrics registry, so counts read below are this test's alone.
    return Hop(HopSpec("milo_adapter", inputs, outputs), processor, SETTINGS, ServiceMetrics("milo_adapter"))


def counted(h: Hop, metric: str, **labels: str) -> float:
    return h.metrics.registry.get_sample_value(metric, {"service": "milo_adapter", **labels}) or 0.0


def header(output: Output, name: str) -> str | None:
    return next((v.decode() for k, v in output.headers if k == name), None)


def test_building_a_hop_needs_a_bootstrap_but_does_not_connect() -> None:
    h = hop(Upper())
    assert not h.ready and len(h.seen) == 0
    with pytest.raises(ValueError, match="kafka_bootstrap"):
        Hop(HopSpec("x", ["in.imilo"], []), Upper(), Settings(pseudonym_secret="x"), ServiceMetrics("x"))


def test_outputs_come_in_input_order_and_done_holds_their_keys() -> None:
    batch = [incoming(v, f"id-{i}", offset=i) for i, v in enumerate([b"c", b"a", b"d", b"b"])]
    outputs, done = hop(Upper()).process_batch(batch)
    assert [o.value for o in outputs] == [b"C", b"A", b"D", b"B"]
    assert [header(o, CAUSE) for o in outputs] == ["id-0", "id-1", "id-2", "id-3"]
    assert done == ["id-0", "id-1", "id-2", "id-3"]


@given(st.lists(st.sampled_from("abcdef"), max_size=12))
def test_each_input_id_is_processed_once_in_order_of_first_appearance(ids: list[str]) -> None:
    processor = Upper()
    outputs, done = hop(processor).process_batch([incoming(i.encode(), i) for i in ids])
    first_seen = list(dict.fromkeys(ids))
    assert done == first_seen
    assert processor.seen == [i.encode() for i in first_seen]
    assert [o.value for o in outputs] == [i.upper().encode() for i in first_seen]


def test_duplicates_in_the_batch_and_already_done_are_skipped_and_counted() -> None:
    processor = Upper()
    h = hop(processor)
    h.seen.add_all(["deja"])
    batch = [incoming(b"a", "1"), incoming(b"x", "deja"), incoming(b"b", "2"), incoming(b"a", "1")]
    outputs, done = h.process_batch(batch)
    assert [o.value for o in outputs] == [b"A", b"B"]
    assert processor.seen == [b"a", b"b"]
    assert done == ["1", "2"]
    labels = {"direction": "in", "partner": "imilo", "event": "formation.Positionnement"}
    assert counted(h, "passerelle_messages_total", **labels, outcome="doublon") == 2
    assert counted(h, "passerelle_messages_total", **labels, outcome="ok") == 2


def test_processing_does_not_remember_a_batch_before_its_outputs_are_acknowledged() -> None:
    h = hop(Upper())
    h.process_batch([incoming(b"a", "1")])
    assert "1" not in h.seen and len(h.seen) == 0  # the handler adds ``done`` only after the acks
    outputs, again = h.process_batch([incoming(b"a", "1")])
    assert again == ["1"] and [o.value for o in outputs] == [b"A"]


def test_a_replay_of_a_done_input_is_processed_again() -> None:
    h = hop(Upper())
    h.seen.add_all(["1"])
    outputs, done = h.process_batch([incoming(b"a", "1"), incoming(b"a", "1", replay="dlq.milo_adapter@0:7")])
    assert done == ["1#dlq.milo_adapter@0:7"]
    assert [header(o, CAUSE) for o in outputs] == ["1#dlq.milo_adapter@0:7"]


@pytest.mark.parametrize("processor", [Upper, UpperInPasses], ids=["message by message", "in passes"])
def test_a_processor_bug_dead_letters_that_input_only(
    logs: list[MutableMapping[str, Any]], processor: type[Upper]
) -> None:
    h = hop(processor())
    batch = [incoming(b"x", "10", offset=5), incoming(b"boom", "11", offset=6), incoming(b"y", "12", offset=7)]
    outputs, done = h.process_batch(batch)
    assert [o.topic for o in outputs] == [
        "canon.formation.Positionnement",
        "dlq.milo_adapter",
        "feedback.imilo",
        "canon.formation.Positionnement",
    ]
    assert [outputs[0].value, outputs[3].value] == [b"X", b"Y"]
    dlq, feedback = outputs[1], outputs[2]
    assert dlq.value == b"boom" and dlq.key == b"11"
    assert (header(dlq, "passerelle_error_code"), header(dlq, "passerelle_error_source_offset")) == (
        "erreur_interne",
        "6",
    )
    assert header(dlq, "passerelle_error_message") == "erreur interne du service : RuntimeError"
    assert header(dlq, CAUSE) == header(feedback, CAUSE) == "11"
    assert orjson.loads(feedback.value)["erreurs"][0]["code"] == "erreur_interne"
    assert done == ["10", "11", "12"]  # the bad input is settled by its DLQ record: not consumed again
    assert counted(h, "passerelle_dlq_messages_total", partner="imilo", reason="erreur_interne") == 1
    labels = {"direction": "in", "partner": "imilo", "event": "formation.Positionnement"}
    assert counted(h, "passerelle_messages_total", **labels, outcome="dlq") == 1
    assert counted(h, "passerelle_messages_total", **labels, outcome="ok") == 2
    [logged] = [e for e in logs if e["event"] == "hop.erreur_interne"]
    assert (logged["log_level"], logged["where"], logged["service"]) == ("error", "in.imilo/0@6", "milo_adapter")
    assert isinstance(logged["exc_info"], RuntimeError)  # its traceback, for whoever fixes the bug


def test_no_feedback_to_a_partner_whose_feedback_topic_the_hop_does_not_write() -> None:
    h = hop(Upper(), outputs=("canon.formation.Positionnement", "dlq.milo_adapter"))
    outputs, _ = h.process_batch([incoming(b"boom", "11")])
    assert [o.topic for o in outputs] == ["dlq.milo_adapter"]
    # Still counted against the partner it came from.
    assert counted(h, "passerelle_dlq_messages_total", partner="imilo", reason="erreur_interne") == 1


def test_no_feedback_for_an_input_no_partner_wrote() -> None:
    # canon.* is written by Passerelle itself: its ce_source is not the topic's writer.
    topic = "canon.formation.Positionnement"
    h = hop(Upper(), inputs=(topic,), outputs=("deliver.region-24", "feedback.imilo", "dlq.milo_adapter"))
    outputs, done = h.process_batch([incoming(b"boom", "11", topic=topic)])
    assert [o.topic for o in outputs] == ["dlq.milo_adapter"]
    assert done == ["11"]
    assert counted(h, "passerelle_dlq_messages_total", partner="?", reason="erreur_interne") == 1


def test_an_empty_batch_does_nothing() -> None:
    processor = Upper()
    assert hop(processor).process_batch([]) == ([], [])
    assert processor.seen == []


def test_call_hook_calls_commit_and_rollback_when_the_processor_has_them() -> None:
    processor = Hooked()
    call_hook(processor, "commit")
    call_hook(processor, "rollback")
    call_hook(processor, "commit")
    assert processor.calls == ["commit", "rollback", "commit"]


def test_call_hook_ignores_a_processor_without_them() -> None:
    processor = Upper()
    call_hook(processor, "commit")
    call_hook(processor, "rollback")
    assert not hasattr(processor, "commit") and processor.seen == []


def test_process_batch_leaves_commit_and_rollback_to_the_handler() -> None:
    # The hooks follow the producer's acks (Hop._handle), never the processing of a batch.
    processor = Hooked()
    hop(processor).process_batch([incoming(b"a", "1"), incoming(b"boom", "2")])
    assert processor.calls == []
