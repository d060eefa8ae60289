"""Bad input becomes two records: the original once on the DLQ, a readable error to the sender.

Nothing is dropped silently: every rejected item is counted, kept with the
offsets an operator needs to find the source, and explained to the partner
in plain French on its ``feedback.<partner>`` topic. One input gives at most
one DLQ record and one feedback record, however many of its rows or sessions
were refused, and both are bounded by construction under the broker's message
limit (the DLQ record format is described in docs/operator-guide.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from passerelle.broker import topics
from passerelle.core.envelope import DEAD_LETTER_TYPE, FEEDBACK_TYPE, SPECVERSION, format_time, subject_of
from passerelle.core.guard import NIR_RULE
from passerelle.core.headers import CAUSE, ERROR_PREFIX, ORIGINAL_PREFIX, REPLAY, SENDER, VALUE_WITHHELD
from passerelle.core.privacy import MASK, PERSONAL_KEYS, redact_text
from passerelle.core.problems import Problem
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.tally import Tally

log = structlog.get_logger("passerelle.rejets")

# 2: the record is a CloudEvent of its own (type fr.passerelle.rejet.LettreMorte), the original's attributes kept
# under passerelle_original_*; 1 kept the original's ce_* as they were.
DLQ_FORMAT = "2"
JSON = "application/json"
_UNKNOWN_CONTENT = b"application/octet-stream"
# Kafka's default message.max.bytes is 1,048,588: keep room for the record's own framing.
DEFAULT_MAX_RECORD_BYTES = 1_000_000
_DETAILS_MAX = 32 * 1024  # the JSON list of every problem, in the DLQ headers
_POSITIONS_MAX = 4 * 1024
_TEXT_MAX = 1024  # one message or path in a header
_FEEDBACK_MAX = 256 * 1024
_RECORD_OVERHEAD = 512  # key, timestamps, header framing


@dataclass
class RecordBudget:
    """The largest record a service may produce: the setting, lowered to the broker's own limit at start."""

    max_bytes: int = DEFAULT_MAX_RECORD_BYTES


@dataclass(frozen=True, slots=True)
class Failure:
    """One rejected input, or one row, session or array element of it."""

    service: str
    sender: str | None
    problems: tuple[Problem, ...]
    contract: str | None = None  # "formation.Positionnement v1"
    position: str | None = None
    event: str | None = None

    @property
    def first(self) -> Problem:
        return self.problems[0]


def reject(
    message: Incoming,
    failures: Sequence[Failure],
    tally: Tally,
    *,
    direction: str,
    partner: str | None,
    accepted: int = 0,
    budget: int = DEFAULT_MAX_RECORD_BYTES,
) -> list[Output]:
    """The one way a hop refuses an input or items of it: each item counted, then one DLQ and one feedback record."""
    for failure in failures:
        tally.count(direction, partner or "?", failure.event or "inconnu", "dlq")
        tally.rejected(partner or "?", failure.first.code)
    return failure_outputs(message, failures, accepted=accepted, budget=budget)


def safe_problem(problem: Problem) -> Problem:
    """A problem fit to leave the service: no personal value in its path, message or received value."""
    last = problem.path.rsplit(".", 1)[-1].split("[", 1)[0].lower()
    received = problem.received
    if received is not None:
        received = MASK if last in PERSONAL_KEYS else _clip(redact_text(received))
    return Problem(
        problem.code,
        _clip(redact_text(problem.message)),
        _clip(redact_text(problem.path)),
        problem.rule,
        problem.expected,
        received,
    )


def failure_outputs(
    message: Incoming,
    failures: Sequence[Failure],
    *,
    accepted: int = 0,
    budget: int = DEFAULT_MAX_RECORD_BYTES,
    now: datetime | None = None,
) -> list[Output]:
    """The DLQ record, and the feedback event when the sender is known."""
    if not failures:
        return []
    moment = format_time(now or datetime.now(UTC))
    first = failures[0]
    service, sender = first.service, first.sender
    items = [(f, tuple(safe_problem(p) for p in f.problems)) for f in failures]
    lead = items[0][1][0]
    log.info(
        "message.rejete",
        service=service,
        partner=sender,
        code=lead.code,
        path=lead.path,
        contract=first.contract,
        position=first.position,
        rejected_items=len(failures),
        accepted_items=accepted,
        ce_id=message.input_id,
        correlation_id=message.headers.get("correlation_id"),
        traceparent=message.headers.get("traceparent"),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
    )
    outputs = [_dlq(message, items, accepted, moment, budget)]
    if sender:
        outputs.append(_feedback(message, items, accepted, moment, min(budget, _FEEDBACK_MAX)))
    return outputs


def _dlq(
    message: Incoming,
    items: list[tuple[Failure, tuple[Problem, ...]]],
    accepted: int,
    moment: str,
    budget: int,
) -> Output:
    failure, problems = items[0]
    lead = problems[0]
    positions = [f.position for f, _ in items if f.position]
    error_headers = {
        "format": DLQ_FORMAT,
        "code": lead.code,
        "path": lead.path,
        "rule": lead.rule,
        "message": lead.message,
        "contract": failure.contract or failure.event or "",
        "position": failure.position or "",
        "positions": _joined(positions, _POSITIONS_MAX),
        "items": str(len(items)),
        "accepted": str(accepted),
        "source_topic": message.topic,
        "source_partition": str(message.partition),
        "source_offset": str(message.offset),
        "service": failure.service,
        "time": moment,
        "count": str(sum(len(p) for _, p in items)),
    }
    details, omitted = _bounded([_detail(f, p) for f, ps in items for p in ps], _DETAILS_MAX)
    # Names only Passerelle writes: an input carrying them (forged, or a DLQ record sent back by hand) loses them,
    # or a replay would restore a sender's passerelle_original_ce_* as the record's own attributes.
    kept = [(k, v) for k, v in message.raw_headers if not k.startswith((ERROR_PREFIX, ORIGINAL_PREFIX)) and k != CAUSE]
    headers = [
        *dead_letter_headers(kept, failure.service, derived_id("dlq", message.dedupe_key), moment),
        *((ERROR_PREFIX + k, v.encode()) for k, v in error_headers.items()),
        (ERROR_PREFIX + "details", details),
        (CAUSE, message.dedupe_key.encode()),
    ]
    if omitted:
        headers.append((ERROR_PREFIX + "details_omitted", str(omitted).encode()))
    if "correlation_id" not in message.headers:  # so an operator can follow the input across topics
        headers.append(("correlation_id", message.input_id.encode()))
    if failure.sender and SENDER not in message.headers:
        headers.append((SENDER, failure.sender.encode()))
    value = message.value
    if any(p.code == NIR_RULE for _, problems in items for p in problems):
        # No NIR on the bus: the input that carried one is not copied to the DLQ. The partner corrects and sends
        # again; the headers still say what was refused, where, and where the input was read.
        headers.append((VALUE_WITHHELD, NIR_RULE.encode()))
        value = b""
    room = budget - _RECORD_OVERHEAD - len(message.key or b"") - _headers_size(headers)
    if len(value) > room:
        # Never a record the broker refuses: the original is cut, loudly, rather than the partition blocked.
        log.warning(
            "dlq.original_tronque", topic=message.topic, offset=message.offset, size=len(value), kept=max(room, 0)
        )
        headers.append((ERROR_PREFIX + "value_truncated", str(len(value)).encode()))
        value = value[: max(room - 64, 0)]
    return Output(topics.dlq(failure.service), value, message.key, headers)


def _feedback(
    message: Incoming,
    items: list[tuple[Failure, tuple[Problem, ...]]],
    accepted: int,
    moment: str,
    budget: int,
) -> Output:
    failure = items[0][0]
    assert failure.sender is not None
    body: dict[str, Any] = {
        "statut": "partiel" if accepted else "rejete",
        "evenement": subject_of(message.headers.get("ce_type") or "") or failure.event or failure.contract,
        "idMessage": message.input_id,
        "position": failure.position,
        "contrat": failure.contract,
        "acceptes": accepted,
        "rejetes": len(items),
        "erreurs": [],
        "erreursOmises": 0,
        "recu": {"topic": message.topic, "partition": message.partition, "offset": message.offset},
        "service": failure.service,
        "horodatage": moment,
        "rejeu": message.headers.get(REPLAY),
    }
    errors = [_detail(f, p) for f, ps in items for p in ps]
    room = budget - len(orjson.dumps(body)) - 1024
    kept_errors: list[dict[str, Any]] = []
    for error in errors:
        size = len(orjson.dumps(error)) + 1
        if size > room:
            break
        kept_errors.append(error)
        room -= size
    body["erreurs"] = kept_errors
    body["erreursOmises"] = len(errors) - len(kept_errors)
    event_id = derived_id("feedback", message.dedupe_key)
    headers = [
        *_own_attributes(FEEDBACK_TYPE, failure.service, event_id, moment, JSON.encode()),
        ("correlation_id", (message.headers.get("correlation_id") or message.input_id).encode()),
        (CAUSE, message.dedupe_key.encode()),
    ]
    if "traceparent" in message.headers:
        headers.append(("traceparent", message.headers["traceparent"].encode()))
    return Output(topics.feedback(failure.sender), orjson.dumps(body), message.key, headers)


def dead_letter_headers(
    original: Sequence[tuple[str, bytes]], service: str, event_id: str, moment: str
) -> list[tuple[str, bytes]]:
    """A DLQ record's headers: its own CloudEvents attributes (its data is the original's bytes, so its content
    type is theirs), then the original's headers, its CloudEvents attributes renamed ``passerelle_original_*``."""
    content_type = _UNKNOWN_CONTENT
    renamed: list[tuple[str, bytes]] = []
    for key, value in original:
        if key.startswith("ce_") or key == "content-type":
            renamed.append((ORIGINAL_PREFIX + key, value))
            content_type = value if key == "content-type" and value else content_type
        else:
            renamed.append((key, value))
    return [*_own_attributes(DEAD_LETTER_TYPE, service, event_id, moment, content_type), *renamed]


def _own_attributes(
    type_: str, service: str, event_id: str, moment: str, content_type: bytes
) -> list[tuple[str, bytes]]:
    """The CloudEvents attributes of a record a service writes about an input: feedback and dead letter."""
    return [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", event_id.encode()),
        ("ce_type", type_.encode()),
        ("ce_source", f"passerelle/{service}".encode()),
        ("ce_time", moment.encode()),
        ("content-type", content_type),
    ]


def _detail(failure: Failure, problem: Problem) -> dict[str, Any]:
    return {**problem.as_dict(), "position": failure.position, "contrat": failure.contract}


def _bounded(entries: list[dict[str, Any]], limit: int) -> tuple[bytes, int]:
    """As many entries as fit in ``limit`` bytes of JSON, and how many were left out."""
    parts: list[bytes] = []
    size = 2
    for entry in entries:
        encoded = orjson.dumps(entry)
        if size + len(encoded) + 1 > limit:
            break
        parts.append(encoded)
        size += len(encoded) + 1
    return b"[" + b",".join(parts) + b"]", len(entries) - len(parts)


def _joined(values: list[str], limit: int) -> str:
    text = ", ".join(values)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(", ", 1)[0]
    return f"{cut} … (+{len(values) - cut.count(', ') - 1})"


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 1] + "…"


def _headers_size(headers: Sequence[tuple[str, bytes]]) -> int:
    return sum(len(k) + len(v) + 8 for k, v in headers)
