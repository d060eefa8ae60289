"""The two halves every adapter shares: native → canonical (inbound) and canonical → native (outbound).

Adapters differ only in the dialects they own; the flow around a dialect
(choosing it from the partner's profile, validating against the contract,
the envelope, errors to the DLQ and feedback) is the same and lives here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from passerelle.broker import topics
from passerelle.core.contracts.errors import ContractError, ValidationFailed
from passerelle.core.dialect import Draft, InboundContext, Outcome, Problem, Rejected, Rendered
from passerelle.core.envelope import Envelope, EnvelopeError, new_trace_parent, parse_time
from passerelle.core.events import Dialect
from passerelle.core.partners import PartnerProfile
from passerelle.core.pieces import FIRST_LINE
from passerelle.core.shapes import Shape
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.failures import Failure, failure_outputs
from passerelle.runtime.hop import Tally
from passerelle.runtime.messages import CAUSE, SENDER, Incoming, Output, derived_id

Parse = Callable[[bytes, InboundContext], Iterable[Outcome]]
Render = Callable[[str, dict[str, Any], PartnerProfile, Shape], Rendered]

_CONTENT_TYPES = {
    "application/xml": Dialect.LHEO_XML,
    "text/xml": Dialect.LHEO_XML,
    "text/csv": Dialect.REGION_CSV,
}


@dataclass(frozen=True)
class Dialects:
    """The dialects one adapter owns, in both directions."""

    parsers: Mapping[Dialect, Parse]
    renderers: Mapping[Dialect, Render]
    # Canonical field path → the native one, so a contract error names what the integrator wrote.
    native_paths: Mapping[Dialect, Callable[[str, str], str]] = field(default_factory=dict)


def partner_of(topic: str) -> str:
    return topic.split(".", 1)[1]


class InboundTranslator:
    """``in.<partner>`` (native, as sent) → ``canon.<subject>`` (Avro), or DLQ + feedback."""

    def __init__(self, ctx: ServiceContext, dialects: Dialects) -> None:
        self.ctx = ctx
        self.dialects = dialects

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        partner = partner_of(message.topic)
        self.ctx.metrics.last_message.labels(partner).set(time.time())
        profile = self.ctx.profiles.get(partner)
        event_type = message.headers.get("ce_type") or None
        if profile is None:
            unknown = Rejected.one("partenaire_inconnu", f"aucun profil pour {partner}")
            return self._reject(message, partner, event_type, unknown, tally)
        dialect = self._dialect(profile, event_type, message)
        if isinstance(dialect, Rejected):
            return self._reject(message, partner, event_type, dialect, tally)
        context = InboundContext(
            partner=partner,
            pseudonymiser=self.ctx.pseudonymiser,
            event_type=event_type,
            encoding=profile.csv.encoding,
            extras={"separateur": profile.csv.separator},
            shapes=self.ctx.shapes,
        )
        outputs: list[Output] = []
        shift = _line_shift(message)
        for index, parsed in enumerate(self.dialects.parsers[dialect](message.value, context)):
            outcome = _shifted(parsed, shift) if shift else parsed
            if isinstance(outcome, Rejected):
                outputs.extend(self._reject(message, partner, outcome.subject or event_type, outcome, tally))
                continue
            outputs.extend(self._canonical(message, partner, outcome, index, tally, dialect))
        return outputs

    def _dialect(self, profile: PartnerProfile, event_type: str | None, message: Incoming) -> Dialect | Rejected:
        if event_type:
            flow = profile.publishes.get(event_type)
            if flow is None:
                known = ", ".join(sorted(profile.publishes)) or "aucun"
                return Rejected.one(
                    "evenement_non_publie",
                    f"{profile.id} ne publie pas {event_type} selon son profil (publie : {known})",
                    "ce_type",
                    received=event_type,
                )
            return flow.dialect
        by_type = _CONTENT_TYPES.get(message.headers.get("content-type", "").split(";")[0].strip())
        used = {f.dialect for f in profile.publishes.values()}
        if by_type in used:
            return by_type
        first = message.value.lstrip()[:1]
        guess = Dialect.LHEO_XML if first == b"<" else None
        if first in (b"{", b"["):
            guess = Dialect.IMILO_JSON if Dialect.IMILO_JSON in used else Dialect.REGION_JSON
        if guess in used:
            return guess
        return Rejected.one(
            "type_inconnu",
            "type d'événement inconnu : indiquez-le dans l'en-tête ce_type (ex. formation.StatutCandidature)",
            "ce_type",
        )

    def _canonical(
        self, message: Incoming, partner: str, draft: Draft, index: int, tally: Tally, dialect: Dialect
    ) -> list[Output]:
        try:
            record = self.ctx.typed.validate(draft.subject, draft.record)
            value = self.ctx.codec.encode(draft.subject, record)
        except ValidationFailed as failed:
            to_native = self.dialects.native_paths.get(dialect)
            problems = tuple(
                replace(p, path=to_native(draft.subject, p.path)) if to_native else p
                for p in (Problem.from_field_error(e) for e in failed.errors)
            )
            rejected = Rejected(problems, draft.position, draft.subject)
            return self._reject(message, partner, draft.subject, rejected, tally, f"{failed.subject} v{failed.version}")
        except ContractError as exc:
            rejected = Rejected.one(exc.code, str(exc), position=draft.position, subject=draft.subject)
            return self._reject(message, partner, draft.subject, rejected, tally)
        # The item's place in the message is part of its identity: one CSV file or JSON array may hold several
        # changes for the same positionnement (RECUE, then ADMIS), which must stay distinct events.
        item = f"{draft.native_id or draft.position}#{index}"
        envelope = Envelope.new(
            draft.subject,
            partner,
            event_id=derived_id(message.input_id, item, draft.subject),
            correlation_id=message.headers.get("correlation_id") or message.input_id,
            traceparent=message.headers.get("traceparent") or new_trace_parent(),
            time=_sent_at(message),
        )
        headers = envelope.to_headers()
        headers.append((CAUSE, message.dedupe_key.encode()))
        tally.count("in", partner, draft.subject, "ok")
        return [Output(topics.canonical(draft.subject), value, draft.key.encode(), headers)]

    def _reject(
        self,
        message: Incoming,
        partner: str,
        event: str | None,
        rejected: Rejected,
        tally: Tally,
        contract: str | None = None,
    ) -> list[Output]:
        if contract is None and event and event in self.ctx.catalogue:
            contract = f"{event} v{self.ctx.catalogue.latest(event).version}"
        sender = partner if partner in self.ctx.profiles else None
        failure = Failure(self.ctx.service, sender, rejected.problems, contract, rejected.position)
        tally.count("in", partner, event or "inconnu", "dlq")
        tally.rejected(partner, rejected.problems[0].code)
        return failure_outputs(message, failure)


class OutboundTranslator:
    """``deliver.<partner>`` (canonical, minimised) → ``out.<partner>`` in the partner's dialect."""

    def __init__(self, ctx: ServiceContext, dialects: Dialects) -> None:
        self.ctx = ctx
        self.dialects = dialects

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        partner = partner_of(message.topic)
        try:
            envelope = Envelope.from_headers(message.raw_headers)
            decoded = self.ctx.codec.decode(message.value)
        except (EnvelopeError, ContractError) as exc:
            return self._reject(message, partner, None, Problem(getattr(exc, "code", "decodage"), str(exc)), tally)
        profile = self.ctx.profiles.get(partner)
        reception = profile.receives.get(decoded.subject) if profile else None
        if profile is None or reception is None or reception.dialect not in self.dialects.renderers:
            problem = Problem("non_abonne", f"{partner} ne reçoit pas {decoded.subject} selon son profil")
            return self._reject(message, partner, decoded.subject, problem, tally)
        try:
            shape = self.ctx.shapes[decoded.subject]
            rendered = self.dialects.renderers[reception.dialect](decoded.subject, decoded.record, profile, shape)
        except (ValueError, KeyError, TypeError) as exc:
            problem = Problem("rendu", f"rendu {reception.dialect.value} impossible : {type(exc).__name__}")
            return self._reject(message, partner, decoded.subject, problem, tally)
        out_envelope = envelope.derive(
            decoded.subject, "passerelle", derived_id(envelope.id, "out"), content_type=rendered.content_type
        )
        headers = out_envelope.to_headers()
        headers += [(CAUSE, message.dedupe_key.encode()), (SENDER, envelope.source.encode())]
        now = datetime.now(UTC)
        self.ctx.metrics.end_to_end.labels(partner, decoded.subject).observe(
            max(0.0, (now - envelope.time).total_seconds())
        )
        tally.count("out", partner, decoded.subject, "ok")
        return [Output(topics.outbound(partner), rendered.payload, message.key, headers)]

    def _reject(
        self, message: Incoming, partner: str, event: str | None, problem: Problem, tally: Tally
    ) -> list[Output]:
        # Delivery failures are Passerelle's own: DLQ for the operator, no feedback to the recipient.
        failure = Failure(self.ctx.service, None, (problem,), event)
        tally.count("out", partner, event or "inconnu", "dlq")
        tally.rejected(partner, problem.code)
        return failure_outputs(message, failure)


_LINE = re.compile(r"^ligne (\d+)")


def _line_shift(message: Incoming) -> int:
    """A CSV piece cut by ``passerelle ingest`` says where it starts in the original file."""
    first = message.headers.get(FIRST_LINE, "")
    return int(first) - 2 if first.isdigit() and int(first) > 2 else 0


def _shifted(outcome: Outcome, shift: int) -> Outcome:
    match = _LINE.match(outcome.position or "")
    if not match:
        return outcome
    position = f"ligne {int(match.group(1)) + shift}{(outcome.position or '')[match.end() :]}"
    return replace(outcome, position=position)


def _sent_at(message: Incoming) -> datetime:
    text = message.headers.get("ce_time")
    if text:
        try:
            return parse_time(text)
        except ValueError:
            pass
    return datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
