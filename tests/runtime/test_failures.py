"""A refused input without a broker: its DLQ record, its feedback event, their ids, and how it is counted.

``test_bounded_errors.py`` covers the size limits and the redaction; this file covers what each record says.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from bench.records import native_positionnement
from passerelle.core.envelope import DEAD_LETTER_TYPE, FEEDBACK_TYPE
from passerelle.core.headers import CAUSE, REPLAY, SENDER, VALUE_WITHHELD
from passerelle.core.problems import Problem
from passerelle.runtime.failures import Failure, failure_outputs, reject
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.replay import DlqEntry
from passerelle.runtime.tally import Tally
from tests import translator as offline
from tests.logs import captured_logs

NOW = datetime(2026, 3, 2, 8, 15, 2, 113000, tzinfo=UTC)
MOMENT = "2026-03-02T08:15:02.113Z"
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
STATUT = "formation.StatutCandidature"

DATE = Problem(
    "date", "date impossible : 31/02/2026", "date_statut", "date", expected="JJ/MM/AAAA", received="31/02/2026"
)
STATUS = Problem("enum", "statut inconnu", "statut", "enum", expected="ADMIS, REFUSE, …", received="INVENTE")


@pytest.fixture(autouse=True)
def quiet() -> Iterator[None]:
    # Captured, not printed: a CLI test earlier in the session may have left structlog writing to a closed stream.
    with captured_logs():
        yield


def incoming(
    value: bytes = b"P-1;31/02/2026;INVENTE",
    topic: str = "in.region-24",
    **headers: str,
) -> Incoming:
    values = {"ce_id": "m-1", "ce_type": STATUT, **headers}
    present = {k: v for k, v in values.items() if v}
    raw = tuple((k, v.encode()) for k, v in present.items())
    return Incoming(topic, 2, 41, b"cle", value, present, raw, 1_772_439_302_113)


def failure(sender: str | None = "region-24", *problems: Problem) -> Failure:
    return Failure("region_adapter", sender, problems or (DATE, STATUS), f"{STATUT} v1", "ligne 3", STATUT)


def header_values(output: Output, name: str) -> list[bytes]:
    return [v for k, v in output.headers if k == name]


def one(output: Output, name: str) -> str:
    [value] = header_values(output, name)
    return value.decode()


def errors(output: Output) -> dict[str, str]:
    return {
        k.removeprefix("passerelle_error_"): v.decode() for k, v in output.headers if k.startswith("passerelle_error_")
    }


def test_one_dlq_record_holds_the_original_and_every_error_header() -> None:
    message = incoming(correlation_id="corr-1")
    dlq, _ = failure_outputs(message, [failure()], now=NOW)
    assert (dlq.topic, dlq.value, dlq.key) == ("dlq.region_adapter", message.value, b"cle")
    details = errors(dlq).pop("details")
    assert {k: v for k, v in errors(dlq).items() if k != "details"} == {
        "format": "2",
        "code": "date",
        "path": "date_statut",
        "rule": "date",
        "message": "date impossible : 31/02/2026",
        "contract": f"{STATUT} v1",
        "position": "ligne 3",
        "positions": "ligne 3",
        "items": "1",
        "accepted": "0",
        "source_topic": "in.region-24",
        "source_partition": "2",
        "source_offset": "41",
        "service": "region_adapter",
        "time": MOMENT,
        "count": "2",
    }
    assert orjson.loads(details) == [
        {**DATE.as_dict(), "position": "ligne 3", "contrat": f"{STATUT} v1"},
        {**STATUS.as_dict(), "position": "ligne 3", "contrat": f"{STATUT} v1"},
    ]
    # The input's own headers are kept (its CloudEvents attributes renamed), each error header is written once.
    original = (one(dlq, "passerelle_original_ce_id"), one(dlq, "passerelle_original_ce_type"))
    assert (*original, one(dlq, "correlation_id")) == ("m-1", STATUT, "corr-1")
    # The record is a CloudEvent of its own, from the service that refused the input, about that input.
    assert one(dlq, "ce_type") == DEAD_LETTER_TYPE and one(dlq, "ce_source") == "passerelle/region_adapter"
    assert one(dlq, "ce_id") == derived_id("dlq", "m-1") and one(dlq, "ce_time") == MOMENT
    assert one(dlq, "ce_specversion") == "1.0"
    names = [k for k, _ in dlq.headers]
    assert len(names) == len(set(names))
    assert one(dlq, CAUSE) == "m-1" and one(dlq, SENDER) == "region-24"


def test_an_input_already_carrying_error_headers_gets_fresh_ones() -> None:
    message = incoming(
        passerelle_error_code="ancien",
        passerelle_error_extra="x",
        passerelle_cause="autre",
        passerelle_sender="region-24",
    )
    [dlq, _] = failure_outputs(message, [failure()], now=NOW)
    assert header_values(dlq, "passerelle_error_code") == [b"date"]
    assert header_values(dlq, "passerelle_error_extra") == []
    assert header_values(dlq, CAUSE) == [b"m-1"]
    assert header_values(dlq, SENDER) == [b"region-24"]  # present already: not written twice


def test_the_dlq_record_names_the_input_when_it_has_no_correlation_id() -> None:
    dlq = failure_outputs(incoming(), [failure()], now=NOW)[0]
    assert one(dlq, "correlation_id") == "m-1"


def test_the_feedback_event_tells_the_sender_in_french_with_the_same_correlation_id() -> None:
    message = incoming(correlation_id="corr-1", traceparent=TRACE)
    _, feedback = failure_outputs(message, [failure()], now=NOW)
    assert (feedback.topic, feedback.key) == ("feedback.region-24", b"cle")
    assert orjson.loads(feedback.value) == {
        "statut": "rejete",
        "evenement": STATUT,
        "idMessage": "m-1",
        "position": "ligne 3",
        "contrat": f"{STATUT} v1",
        "acceptes": 0,
        "rejetes": 1,
        "erreurs": [
            {
                "code": "date",
                "chemin": "date_statut",
                "regle": "date",
                "message": "date impossible : 31/02/2026",
                "attendu": "JJ/MM/AAAA",
                "recu": "31/02/2026",
                "position": "ligne 3",
                "contrat": f"{STATUT} v1",
            },
            {
                "code": "enum",
                "chemin": "statut",
                "regle": "enum",
                "message": "statut inconnu",
                "attendu": "ADMIS, REFUSE, …",
                "recu": "INVENTE",
                "position": "ligne 3",
                "contrat": f"{STATUT} v1",
            },
        ],
        "erreursOmises": 0,
        "recu": {"topic": "in.region-24", "partition": 2, "offset": 41},
        "service": "region_adapter",
        "horodatage": MOMENT,
        "rejeu": None,
    }
    assert dict(feedback.headers) == {
        "ce_specversion": b"1.0",
        "ce_id": derived_id("feedback", "m-1").encode(),
        "ce_type": FEEDBACK_TYPE.encode(),
        "ce_source": b"passerelle/region_adapter",
        "ce_time": MOMENT.encode(),
        "content-type": b"application/json",
        "correlation_id": b"corr-1",
        CAUSE: b"m-1",
        "traceparent": TRACE.encode(),
    }
    assert len(feedback.headers) == len(dict(feedback.headers))


def test_without_a_correlation_id_the_feedback_and_the_dlq_share_the_input_id() -> None:
    dlq, feedback = failure_outputs(incoming(), [failure()], now=NOW)
    assert one(feedback, "correlation_id") == one(dlq, "correlation_id") == "m-1"
    assert header_values(feedback, "traceparent") == []


def test_the_feedback_id_is_the_same_each_time_the_same_input_fails() -> None:
    # A batch consumed again after a lost ack writes the same event, which the partner can deduplicate.
    first = failure_outputs(incoming(), [failure()], now=NOW)[1]
    again = failure_outputs(incoming(), [failure()], now=datetime(2026, 3, 3, tzinfo=UTC))[1]
    assert one(first, "ce_id") == one(again, "ce_id")
    other = failure_outputs(incoming(ce_id="m-2"), [failure()], now=NOW)[1]
    assert one(other, "ce_id") != one(first, "ce_id")


def test_no_feedback_when_the_sender_is_unknown() -> None:
    outputs = failure_outputs(incoming(), [failure(None)], now=NOW)
    assert [o.topic for o in outputs] == ["dlq.region_adapter"]
    assert header_values(outputs[0], SENDER) == []


def test_no_failure_no_record() -> None:
    assert failure_outputs(incoming(), [], now=NOW) == []


def test_the_cause_is_the_dedupe_key_and_a_replay_changes_it() -> None:
    plain = incoming()
    replayed = incoming(passerelle_replay="dlq.region_adapter@0:5")
    assert plain.dedupe_key == "m-1" and replayed.dedupe_key == "m-1#dlq.region_adapter@0:5"
    dlq, feedback = failure_outputs(replayed, [failure()], now=NOW)
    assert one(dlq, CAUSE) == one(feedback, CAUSE) == "m-1#dlq.region_adapter@0:5"
    assert one(dlq, REPLAY) == "dlq.region_adapter@0:5"  # kept, so the operator sees it was a second attempt
    body = orjson.loads(feedback.value)
    assert body["rejeu"] == "dlq.region_adapter@0:5" and body["idMessage"] == "m-1"
    first_time = failure_outputs(plain, [failure()], now=NOW)[1]
    assert one(feedback, "ce_id") != one(first_time, "ce_id")
    assert one(feedback, "correlation_id") == one(first_time, "correlation_id") == "m-1"


def test_an_input_without_ce_id_is_known_by_its_content() -> None:
    message = incoming(b"{casse", ce_id="")
    dlq, feedback = failure_outputs(message, [failure()], now=NOW)
    assert message.input_id == "sha256:" + hashlib.sha256(b"{casse").hexdigest()
    assert one(dlq, CAUSE) == one(dlq, "correlation_id") == message.input_id
    assert orjson.loads(feedback.value)["idMessage"] == message.input_id
    assert incoming(b"{casse!", ce_id="").input_id != message.input_id


def test_several_refused_rows_make_one_dlq_and_one_feedback_record() -> None:
    rows = [
        Failure("region_adapter", "region-24", (DATE,), f"{STATUT} v1", "ligne 3", STATUT),
        Failure("region_adapter", "region-24", (STATUS,), f"{STATUT} v1", "ligne 6", STATUT),
    ]
    dlq, feedback = failure_outputs(incoming(), rows, accepted=4, now=NOW)
    assert errors(dlq)["positions"] == "ligne 3, ligne 6"
    assert (errors(dlq)["items"], errors(dlq)["accepted"], errors(dlq)["count"]) == ("2", "4", "2")
    assert errors(dlq)["code"] == "date" and errors(dlq)["position"] == "ligne 3"  # the first one leads
    body = orjson.loads(feedback.value)
    assert (body["statut"], body["acceptes"], body["rejetes"]) == ("partiel", 4, 2)
    assert [e["position"] for e in body["erreurs"]] == ["ligne 3", "ligne 6"]


def _without_time(outputs: list[Output]) -> list[Any]:
    moving = {"passerelle_error_time", "ce_time"}
    return [
        (o.topic, o.key, o.value if o.topic.startswith("dlq") else {**orjson.loads(o.value), "horodatage": None},
         [(k, v) for k, v in o.headers if k not in moving])
        for o in outputs
    ]  # fmt: skip


def test_reject_counts_every_refused_item_then_writes_the_same_records() -> None:
    tally = Tally()
    rows = [failure(), failure(), Failure("region_adapter", "region-24", (STATUS,), None, None, None)]
    outputs = reject(incoming(), rows, tally, direction="in", partner="region-24")
    assert tally.counts == {("in", "region-24", STATUT, "dlq"): 2, ("in", "region-24", "inconnu", "dlq"): 1}
    assert tally.dlq == {("region-24", "date"): 2, ("region-24", "enum"): 1}
    assert _without_time(outputs) == _without_time(failure_outputs(incoming(), rows))


@pytest.mark.parametrize("partner", [None, "region-24"])
def test_reject_counts_an_unknown_partner_as_a_question_mark(partner: str | None) -> None:
    tally = Tally()
    reject(incoming(), [failure(None, DATE)], tally, direction="out", partner=partner)
    label = partner or "?"
    assert tally.counts == {("out", label, STATUT, "dlq"): 1}
    assert tally.dlq == {(label, "date"): 1}


def test_a_dead_letter_replays_as_the_original_with_its_own_attributes() -> None:
    message = incoming(
        b"P-1;31/02/2026;INVENTE", "in.region-24", **{"correlation_id": "corr-1", "content-type": "text/csv"}
    )
    dlq, _ = failure_outputs(message, [failure()], now=NOW)
    assert one(dlq, "content-type") == "text/csv"  # the DLQ record's data is the original's bytes
    entry = DlqEntry("dlq.region_adapter", 0, 7, 0, dlq.key, dlq.value, tuple(dlq.headers))
    assert entry.original("ce_id") == "m-1" and entry.original("ce_type") == STATUT
    replayed = entry.replay()
    assert (replayed.topic, replayed.value, replayed.key) == ("in.region-24", message.value, b"cle")
    expected = [*message.raw_headers, (SENDER, b"region-24"), (REPLAY, b"dlq.region_adapter@0:7")]
    assert replayed.headers == expected


def test_a_dead_letter_of_the_first_format_replays_as_before() -> None:
    headers = (("ce_id", b"m-1"), ("ce_type", STATUT.encode()), ("passerelle_error_format", b"1"))
    entry = DlqEntry(
        "dlq.region_adapter", 0, 3, 0, b"cle", b"x", (*headers, ("passerelle_error_source_topic", b"in.region-24"))
    )
    assert entry.original("ce_id") == "m-1"
    assert entry.replay().headers == [*headers[:2], (REPLAY, b"dlq.region_adapter@0:3")]


def test_headers_only_passerelle_writes_are_not_taken_from_the_input() -> None:
    forged = incoming(passerelle_original_ce_source="region-53", passerelle_original_ce_type="x")
    dlq, _ = failure_outputs(forged, [failure()], now=NOW)
    assert header_values(dlq, "passerelle_original_ce_source") == []
    assert header_values(dlq, "passerelle_original_ce_type") == [STATUT.encode()]  # the input's real ce_type
    replayed = DlqEntry("dlq.region_adapter", 0, 1, 0, dlq.key, dlq.value, tuple(dlq.headers)).replay()
    assert dict(replayed.headers).get("ce_source") is None


NIR_TEXT = "1 84 12 76 451 089 46"


def _no_nir(output: Output) -> bool:
    digits = NIR_TEXT.replace(" ", "").encode()
    seen = [output.value, *(v for _, v in output.headers)]
    return not any(digits in blob.replace(b" ", b"").replace(b"\xc2\xa0", b"") for blob in seen)


@pytest.mark.parametrize("accepted", [False, True])
def test_an_input_refused_for_a_nir_is_not_copied_to_the_dlq_nor_replayed(accepted: bool) -> None:
    translator = offline.translator("imilo")
    valid = native_positionnement(random.Random(4), 1)
    holding = valid.replace(b'"Martin"', f'"L\u00e9a\u00a0{NIR_TEXT}"'.encode())
    body = b"[" + valid + b", " + holding + b"]" if accepted else holding
    outputs = translator.run(offline.incoming("imilo", body)).outputs
    [dlq] = [o for o in outputs if o.topic == "dlq.milo_adapter"]
    [feedback] = [o for o in outputs if o.topic == "feedback.imilo"]
    assert [o.topic for o in outputs].count("canon.formation.Positionnement") == int(accepted)
    assert dlq.value == b"" and one(dlq, VALUE_WITHHELD) == "nir" and one(dlq, "passerelle_error_code") == "nir"
    assert one(dlq, "passerelle_error_source_topic") == "in.imilo"
    assert _no_nir(dlq) and _no_nir(feedback)
    entry = DlqEntry("dlq.milo_adapter", 0, 5, 0, dlq.key, dlq.value, tuple(dlq.headers))
    with pytest.raises(ValueError, match="ne garde pas l'original"):
        entry.replay()


def test_an_input_refused_for_anything_else_keeps_its_original() -> None:
    dlq, _ = failure_outputs(incoming(), [failure()], now=NOW)
    assert dlq.value == b"P-1;31/02/2026;INVENTE" and header_values(dlq, VALUE_WITHHELD) == []
