"""Bad input becomes two records: the original bytes on the DLQ, a readable error to the sender.

Nothing is dropped silently: every rejection is counted, kept with the
offsets an operator needs to find the source, and explained to the partner
in plain French on its ``feedback.<partner>`` topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import structlog

from passerelle.broker import topics
from passerelle.core.envelope import format_time
from passerelle.core.headers import CAUSE, ERROR_PREFIX, REPLAY, SENDER
from passerelle.core.problems import Problem
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.tally import Tally

log = structlog.get_logger("passerelle.rejets")

FEEDBACK_TYPE = "fr.passerelle.retour.Erreur"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Failure:
    """Everything known about one rejected input (or one row or session of it)."""

    service: str
    sender: str | None
    problems: tuple[Problem, ...]
    contract: str | None = None  # "formation.Positionnement v1"
    position: str | None = None

    @property
    def first(self) -> Problem:
        return self.problems[0]


def reject(
    message: Incoming, failure: Failure, tally: Tally, *, direction: str, partner: str | None, event: str | None
) -> list[Output]:
    """The one way a hop refuses an input (or an item of it): counted, then its DLQ and feedback records."""
    tally.count(direction, partner or "?", event or "inconnu", "dlq")
    tally.rejected(partner or "?", failure.first.code)
    return failure_outputs(message, failure)


def failure_outputs(message: Incoming, failure: Failure, now: datetime | None = None) -> list[Output]:
    """The DLQ record, and the feedback event when the sender is known."""
    moment = format_time(now or datetime.now(UTC))
    first = failure.first
    log.info(
        "message.rejete",
        service=failure.service,
        partner=failure.sender,
        code=first.code,
        path=first.path,
        contract=failure.contract,
        position=failure.position,
        ce_id=message.input_id,
        correlation_id=message.headers.get("correlation_id"),
        traceparent=message.headers.get("traceparent"),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
    )
    error_headers = {
        "code": first.code,
        "path": first.path,
        "rule": first.rule,
        "message": first.message,
        "contract": failure.contract or "",
        "position": failure.position or "",
        "source_topic": message.topic,
        "source_partition": str(message.partition),
        "source_offset": str(message.offset),
        "service": failure.service,
        "time": moment,
        "count": str(len(failure.problems)),
    }
    kept = [(k, v) for k, v in message.raw_headers if not k.startswith(ERROR_PREFIX) and k != CAUSE]
    dlq_headers = [
        *kept,
        *((ERROR_PREFIX + k, v.encode()) for k, v in error_headers.items()),
        (ERROR_PREFIX + "details", orjson.dumps([p.as_dict() for p in failure.problems])),
        (CAUSE, message.dedupe_key.encode()),
    ]
    if "correlation_id" not in message.headers:  # so an operator can follow the input across topics
        dlq_headers.append(("correlation_id", message.input_id.encode()))
    if failure.sender and SENDER not in message.headers:
        dlq_headers.append((SENDER, failure.sender.encode()))
    outputs = [Output(topics.dlq(failure.service), message.value, message.key, dlq_headers)]
    if failure.sender:
        outputs.append(_feedback(message, failure, moment))
    return outputs


def _feedback(message: Incoming, failure: Failure, moment: str) -> Output:
    assert failure.sender is not None
    body = {
        "statut": "rejete",
        "evenement": message.headers.get("ce_type") or failure.contract,
        "idMessage": message.input_id,
        "position": failure.position,
        "contrat": failure.contract,
        "erreurs": [p.as_dict() for p in failure.problems],
        "recu": {"topic": message.topic, "partition": message.partition, "offset": message.offset},
        "service": failure.service,
        "horodatage": moment,
        "rejeu": message.headers.get(REPLAY),
    }
    event_id = derived_id("feedback", message.dedupe_key, failure.position or "")
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_type", FEEDBACK_TYPE.encode()),
        ("ce_source", f"passerelle/{failure.service}".encode()),
        ("ce_time", moment.encode()),
        ("content-type", JSON.encode()),
        ("correlation_id", (message.headers.get("correlation_id") or message.input_id).encode()),
        (CAUSE, message.dedupe_key.encode()),
    ]
    if "traceparent" in message.headers:
        headers.append(("traceparent", message.headers["traceparent"].encode()))
    return Output(topics.feedback(failure.sender), orjson.dumps(body), message.key, headers)
