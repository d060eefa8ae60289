"""Error records stay under the broker's limit, keep the original once, and a refused record never loops."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from passerelle.broker.clients import Guarantee
from passerelle.core.envelope import DEAD_LETTER_TYPE
from passerelle.core.problems import Problem
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.failures import Failure, failure_outputs
from passerelle.runtime.hop import (
    FENCED,
    LOOP_BLOCKED_AFTER_S,
    PRODUCE_FAILED,
    WRITE_BLOCKED,
    Hop,
    HopSpec,
    _outputs_of,
    _Undelivered,
)
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings

NIR = "184127645108946"


def incoming(value: bytes, topic: str = "in.region-24", ce_id: str = "m-1") -> Incoming:
    headers = {"ce_id": ce_id, "ce_type": "formation.StatutCandidature"}
    raw = tuple((k, v.encode()) for k, v in headers.items())
    return Incoming(topic, 2, 41, b"key", value, headers, raw, 0)


def size(output: Output) -> int:
    return len(output.value) + len(output.key or b"") + sum(len(k) + len(v) for k, v in output.headers)


def unknown_fields(n: int) -> list[Failure]:
    problems = tuple(Problem("champ_inconnu", "champ inconnu du contrat", f"champ_{i}", "inconnu") for i in range(n))
    return [Failure("region_adapter", "region-24", problems, "formation.StatutCandidature v1", None)]


def test_forty_thousand_problems_make_records_under_the_limit() -> None:
    message = incoming(b"x" * 430_000)
    dlq, feedback = failure_outputs(message, unknown_fields(40_000), budget=1_000_000)
    assert dlq.topic == "dlq.region_adapter" and feedback.topic == "feedback.region-24"
    assert size(dlq) < 1_000_000 and size(feedback) < 300_000
    assert dlq.value == message.value  # the original fits: kept whole
    headers = dict(dlq.headers)
    assert headers["passerelle_error_count"] == b"40000"
    kept = len(orjson.loads(headers["passerelle_error_details"]))
    assert kept + int(headers["passerelle_error_details_omitted"]) == 40_000 and kept > 100
    body = orjson.loads(feedback.value)
    assert len(body["erreurs"]) + body["erreursOmises"] == 40_000 and body["erreursOmises"] > 0


def test_a_thousand_bad_rows_keep_the_original_once() -> None:
    message = incoming(b"r;" * 67_000)
    rows = [
        Failure(
            "region_adapter",
            "region-24",
            (Problem("date", "date impossible", "date_statut", "date"),),
            None,
            f"ligne {i + 2}",
        )
        for i in range(1_000)
    ]
    outputs = failure_outputs(message, rows, accepted=5)
    assert [o.topic for o in outputs] == ["dlq.region_adapter", "feedback.region-24"]
    dlq = outputs[0]
    assert dlq.value == message.value
    headers = dict(dlq.headers)
    assert headers["passerelle_error_items"] == b"1000" and headers["passerelle_error_accepted"] == b"5"
    assert headers["passerelle_error_positions"].startswith(b"ligne 2, ligne 3, ")
    assert size(dlq) < 2 * len(message.value) + 64 * 1024
    assert orjson.loads(outputs[1].value)["statut"] == "partiel"


def test_an_original_too_large_for_the_dlq_is_cut_and_says_so() -> None:
    message = incoming(b"y" * 200_000)
    [dlq] = failure_outputs(message, [Failure("router", None, (Problem("decodage", "illisible"),))], budget=100_000)
    assert size(dlq) <= 100_000
    assert dict(dlq.headers)["passerelle_error_value_truncated"] == b"200000"
    assert message.value.startswith(dlq.value) and len(dlq.value) > 50_000


def test_personal_values_never_leave_in_an_error() -> None:
    problems = (
        Problem("type", f"nombre {NIR} inattendu", "jeune.telephone", "type", received="06 12 34 56 78"),
        Problem("type", "texte attendu", f"jeune.{NIR}", "type", received=NIR),
        Problem("type", "texte attendu", "jeune.nom_naissance", "type", received="Dupont"),
    )
    outputs = failure_outputs(incoming(b"{}"), [Failure("region_adapter", "region-24", problems)])
    for output in outputs:
        text = (output.value + b"".join(v for k, v in output.headers if k.startswith("passerelle_error"))).decode()
        assert NIR not in text and "06 12 34 56 78" not in text and "Dupont" not in text


class _Silent:
    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        return []


class _Huge:
    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        return [Output("canon.formation.OffreSession", b"z" * 300_000, None, [])]


def _hop(processor: Any, budget: int = 200_000) -> Hop:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="x", max_record_bytes=budget)
    spec = HopSpec("region_adapter", ["in.region-24"], ["feedback.region-24", "dlq.region_adapter"])
    return Hop(spec, processor, settings, ServiceMetrics("bornes"))


def test_an_input_that_yields_nothing_is_an_error() -> None:
    outputs, done = _hop(_Silent()).process_batch([incoming(b"{}")])
    assert done == ["m-1"]
    assert [o.topic for o in outputs] == ["dlq.region_adapter", "feedback.region-24"]
    assert dict(outputs[0].headers)["passerelle_error_code"] == b"aucun_resultat"


def test_an_output_the_broker_would_refuse_becomes_an_error_for_its_input() -> None:
    outputs, _ = _hop(_Huge()).process_batch([incoming(b"<lheo/>")])
    assert [o.topic for o in outputs] == ["dlq.region_adapter", "feedback.region-24"]
    assert dict(outputs[0].headers)["passerelle_error_code"] == b"trop_volumineux"


class _Sent:
    """A record as librdkafka hands it back in a delivery report: its topic, key and value, without its headers."""

    def __init__(self, topic: str, value: bytes, key: bytes | None) -> None:
        self._topic, self._value, self._key = topic, value, key

    def topic(self) -> str:
        return self._topic

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> None:
        return None


class _Producer:
    """Refuses records for one topic the way librdkafka does at produce(), or reports failed deliveries to the
    hop's producer-wide callback, as librdkafka does with ``delivery.report.only.error``."""

    def __init__(self, hop: Hop, refuse: str = "", down: bool = False, refuse_later: str = "") -> None:
        self.refuse, self.down, self.refuse_later, self.report = refuse, down, refuse_later, hop._on_undelivered
        self.sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []
        self._pending: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> None:
        if topic == self.refuse:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.sent.append((topic, value, list(headers or [])))
        failure = KafkaError._TRANSPORT if self.down else None
        if topic == self.refuse_later:
            failure = KafkaError.MSG_SIZE_TOO_LARGE
        if failure is not None:
            sent = _Sent(topic, value, key)
            self._pending.append(lambda: self.report(KafkaError(failure), sent))  # type: ignore[arg-type]

    def poll(self, _timeout: float = 0) -> int:
        return self.flush()

    def flush(self, _timeout: float = 0) -> int:
        pending, self._pending = self._pending, []
        for deliver in pending:
            deliver()
        return 0


@pytest.mark.parametrize(
    ("refused", "sent"),
    [
        ("refuse", ["canon.formation.Positionnement", "dlq.region_adapter"]),
        ("refuse_later", ["out.imilo", "canon.formation.Positionnement", "dlq.region_adapter"]),
    ],
    ids=["at produce()", "after taking it"],
)
def test_a_record_refused_for_its_size_is_dead_lettered_and_the_batch_goes_on(refused: str, sent: list[str]) -> None:
    hop = _hop(_Silent())
    producer = _Producer(hop, refuse="out.imilo") if refused == "refuse" else _Producer(hop, refuse_later="out.imilo")
    hop._produce_and_wait(
        producer,  # type: ignore[arg-type]
        [
            Output("out.imilo", b"big", b"k", [("ce_id", b"e-2")]),
            Output("canon.formation.Positionnement", b"ok", b"k", [("ce_id", b"e-3")]),
        ],
    )
    assert [t for t, _, _ in producer.sent] == sent
    degraded = dict(producer.sent[-1][2])
    assert degraded["passerelle_error_code"] == b"sortie_refusee" and degraded["passerelle_original_ce_id"] == b"e-2"
    assert degraded["ce_type"] == DEAD_LETTER_TYPE.encode()  # a CloudEvent of its own
    assert degraded["passerelle_error_target_topic"] == b"out.imilo"


def test_an_unreachable_broker_fails_the_batch_so_it_is_read_again() -> None:
    hop = _hop(_Silent())
    with pytest.raises(KafkaException):
        hop._produce_and_wait(
            _Producer(hop, down=True),  # type: ignore[arg-type]
            [Output("canon.formation.Positionnement", b"ok", b"k", [])],
        )


class _Record:
    """The parts of a librdkafka message the hop reads."""

    def __init__(self, offset: int) -> None:
        self._offset = offset

    def topic(self) -> str:
        return "in.region-24"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"{}"

    def headers(self) -> list[tuple[str, bytes]]:
        return [("ce_id", f"m-{self._offset}".encode())]

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)

    def error(self) -> None:
        return None


class _Consumer:
    def __init__(self) -> None:
        self.seeks: list[Any] = []
        self.commits = 0

    def seek(self, tp: Any) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def commit(self, **_: Any) -> None:
        self.commits += 1


class _Broken:
    def produce(self, *_: Any, **__: Any) -> None:
        raise RuntimeError("bogue du client")


def test_an_unexpected_error_reads_the_batch_again_and_keeps_the_loop_alive() -> None:
    hop = _hop(_Huge(), budget=1_000_000)
    hop._sleep = lambda _s: None  # type: ignore[method-assign, assignment]
    consumer = _Consumer()
    records: list[Any] = [_Record(7), _Record(8)]
    hop._handle(consumer, _Broken(), records)  # type: ignore[arg-type]
    assert consumer.seeks == [("in.region-24", 0, 7)] and consumer.commits == 0
    assert hop.trouble is not None and hop._failures == 1
    assert "m-7" not in hop.seen  # not done: it will be read again


class _Transactional:
    """A transactional producer whose commits fail while ``blocked`` (a broker that answers but cannot replicate)."""

    def __init__(self) -> None:
        self.blocked = True
        self.committed = 0

    def begin_transaction(self) -> None:
        pass

    def produce(self, topic: str, value: bytes) -> None:
        assert topic == "_passerelle.sonde"

    def commit_transaction(self, _timeout: float) -> None:
        if self.blocked:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        self.committed += 1

    def abort_transaction(self, _timeout: float) -> None:
        pass


def test_an_idle_hop_that_cannot_commit_says_so_until_a_write_goes_through() -> None:
    hop = _hop(_Silent())
    hop.guarantee = Guarantee.TRANSACTIONS
    hop.ready = True
    producer = _Transactional()
    hop._producer = producer  # type: ignore[assignment]
    assert not hop._can_write(100.0)
    assert hop.why_not_healthy == WRITE_BLOCKED and hop._producer is None  # replaced, which aborts what was left
    hop._producer = producer  # type: ignore[assignment]
    assert not hop._can_write(105.0)  # not asked again so soon: still blocked
    hop._failures, hop.trouble = 3, PRODUCE_FAILED  # meanwhile, a new producer could not be made
    producer.blocked = False
    assert hop._can_write(111.0) and producer.committed == 1
    assert hop.why_not_healthy is None and hop._failures == 0


def test_only_what_a_restart_mends_makes_a_hop_dead() -> None:
    hop = _hop(_Silent())
    hop.trouble = "broker injoignable"
    assert hop.why_dead is None  # it waits for the broker and carries on: not a reason to kill the pod
    hop.trouble = FENCED
    assert hop.why_dead == FENCED
    hop.trouble = None
    hop._thread = threading.Thread(target=lambda: None)
    hop._thread.start()
    hop._thread.join()
    assert hop.why_dead == "boucle arrêtée"
    hop._stopping.set()  # stopped on purpose: not dead
    hop._turned -= LOOP_BLOCKED_AFTER_S + 1
    assert hop.why_dead is not None and hop.why_dead.startswith("boucle bloquée")


def test_each_undelivered_record_is_matched_to_its_own_output() -> None:
    first = Output("out.imilo", b"same", b"k", [("ce_id", b"e-1")])
    second = Output("out.imilo", b"same", b"k", [("ce_id", b"e-2")])
    other = Output("out.imilo", b"other", b"k", [("ce_id", b"e-3")])
    error = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    reports = [_Undelivered("out.imilo", b"k", b"same", error) for _ in range(2)]
    reports.append(_Undelivered("out.imilo", b"k", b"from an earlier batch", error))
    found = _outputs_of(reports, [first, other, second])
    assert [o for o, _ in found[:2]] == [first, second]
    assert found[2][0] == Output("out.imilo", b"from an earlier batch", b"k", [])  # known by its topic alone
