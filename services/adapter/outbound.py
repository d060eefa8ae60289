"""``deliver.<partner>`` (canonical, minimised) → ``out.<partner>`` in the partner's dialect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle.broker import topics
from passerelle.core.dialect import OutboundContext, Rendered
from passerelle.core.envelope import event_type
from passerelle.core.events import Dialect
from passerelle.core.headers import CAUSE, SENDER
from passerelle.core.partners import PartnerProfile
from passerelle.core.problems import Problem
from passerelle.runtime.canonical import CanonicalInput, read_canonical
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.failures import Failure, reject
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.passes import ReadThenWrite
from passerelle.runtime.tally import Tally
from services.adapter.dialects import Dialects


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs four times more
class Addressed:
    """A canonical event read, and the recipient that receives it in ``dialect``."""

    partner: str
    canonical: CanonicalInput
    profile: PartnerProfile
    dialect: Dialect
    # Filled by ``render``: the event in the recipient's dialect.
    rendered: Rendered | None = None


class OutboundTranslator(ReadThenWrite):
    def __init__(self, ctx: ServiceContext, dialects: Dialects) -> None:
        self.ctx = ctx
        self.dialects = dialects
        self.between = (self.render,)

    def read(self, message: Incoming, tally: Tally) -> Addressed | list[Output]:
        """The canonical event decoded and the recipient's reception of it, or its refusal."""
        partner = topics.partner_of(message.topic) or "?"
        canonical = read_canonical(message, self.ctx.codec)
        if isinstance(canonical, Problem):
            return self._reject(message, partner, None, canonical, tally)
        decoded = canonical.decoded
        profile = self.ctx.profiles.get(partner)
        reception = profile.receives.get(decoded.subject) if profile else None
        if profile is None or reception is None or reception.dialect not in self.dialects.renderers:
            problem = Problem("non_abonne", f"{partner} ne reçoit pas {decoded.subject} selon son profil")
            return self._reject(message, partner, decoded.subject, problem, tally)
        return Addressed(partner, canonical, profile, reception.dialect)

    def render(self, message: Incoming, read: Addressed | list[Output], tally: Tally) -> Addressed | list[Output]:
        """The event rendered in the recipient's dialect, or the refusal of a record it cannot be rendered from."""
        if isinstance(read, list):
            return read
        decoded = read.canonical.decoded
        try:
            context = OutboundContext(
                self.ctx.shapes[decoded.subject], read.profile.csv.encoding, read.profile.csv.separator
            )
            rendered = self.dialects.renderers[read.dialect](decoded.subject, decoded.record, context)
        except (ValueError, KeyError, TypeError) as exc:
            problem = Problem("rendu", f"rendu {read.dialect.value} impossible : {type(exc).__name__}")
            return self._reject(message, read.partner, decoded.subject, problem, tally)
        read.rendered = rendered
        return read

    def write(self, message: Incoming, read: Addressed | list[Output], tally: Tally) -> list[Output]:
        """The rendered event under an envelope derived from the canonical one."""
        if isinstance(read, list):
            return read
        rendered = read.rendered
        if rendered is None:  # ``write`` is only ever given what ``render`` returned
            raise TypeError("événement non rendu")
        partner = read.partner
        envelope, decoded = read.canonical.envelope, read.canonical.decoded
        out_envelope = envelope.derive(
            event_type(decoded.subject),
            "passerelle",
            derived_id(envelope.id, "out"),
            content_type=rendered.content_type,
        )
        headers = out_envelope.to_headers()
        headers += [(CAUSE, message.dedupe_key.encode()), (SENDER, envelope.source.encode())]
        now = datetime.now(UTC)
        tally.took(partner, decoded.subject, max(0.0, (now - envelope.time).total_seconds()))
        tally.count("out", partner, decoded.subject, "ok")
        return [Output(topics.outbound(partner), rendered.payload, message.key, headers)]

    def _reject(
        self, message: Incoming, partner: str, event: str | None, problem: Problem, tally: Tally
    ) -> list[Output]:
        # Delivery failures are Passerelle's own: DLQ for the operator, no feedback to the recipient.
        failure = Failure(self.ctx.service, None, (problem,), event=event)
        budget = self.ctx.budget.max_bytes
        return reject(message, [failure], tally, direction="out", partner=partner, budget=budget)
