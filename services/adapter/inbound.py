"""``in.<partner>`` (native, as sent) → ``canon.<subject>`` (Avro), or DLQ + feedback.

The flow around a dialect is the same for every adapter: choose the dialect
from the partner's profile, parse (``read``), validate each draft against its
contract and encode it, wrap it in the envelope; every refusal goes through
one ``reject``. A dialect in two steps is read in ``read`` and mapped in
``map``; the contract is ``transform``'s pass and the envelope ``write``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from passerelle.broker import topics
from passerelle.core.contracts.errors import ContractError, ValidationFailed
from passerelle.core.dialect import Draft, InboundContext, Outcome, ReadThenMap, Rejected
from passerelle.core.envelope import Envelope, event_type, new_trace_parent, parse_time, subject_of
from passerelle.core.events import Dialect
from passerelle.core.headers import CAUSE, FIRST_LINE
from passerelle.core.limits import Limits
from passerelle.core.origin import header_claim, record_claim
from passerelle.core.partners import PartnerProfile
from passerelle.core.privacy import shown_value
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.failures import Failure, reject
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.passes import ReadThenWrite
from passerelle.runtime.tally import Tally
from services.adapter.dialects import Dialects

_CONTENT_TYPES = {
    "application/xml": Dialect.LHEO_XML,
    "text/xml": Dialect.LHEO_XML,
    "text/csv": Dialect.REGION_CSV,
}


@dataclass(slots=True)  # not frozen: one per item, and a frozen __init__ costs four times more
class Encoded:
    """A draft that passed its contract, and its Avro bytes."""

    draft: Draft
    value: bytes


class Unmapped(NamedTuple):
    """A message read by a dialect in two steps, and what its mapping takes."""

    dialect: ReadThenMap[Any]
    document: Any
    context: InboundContext
    shift: int


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs four times more
class Parsed:
    """What ``read`` learnt of a message: who sent it, in which dialect, and its items, each a draft or refused;
    ``transform`` turns each draft into its encoding or its refusal by the contract."""

    partner: str
    event_type: str | None
    dialect: Dialect
    sent_at: datetime
    items: list[Outcome | Encoded | Failure]
    # Read and screened, its items not yet mapped: ``map`` does it, in a pass of its own.
    unmapped: Unmapped | None = None


class _Canonical(NamedTuple):
    """What every record of one canonical event is written with: its topic, CloudEvents type and dataschema."""

    topic: str
    type: str
    dataschema: str


class InboundTranslator(ReadThenWrite):
    def __init__(self, ctx: ServiceContext, dialects: Dialects) -> None:
        self.ctx = ctx
        self.dialects = dialects
        settings = ctx.settings
        self.limits = Limits(
            message_bytes=settings.inbound_max_message_bytes,
            field_chars=settings.inbound_max_field_chars,
            depth=settings.inbound_max_depth,
            items=settings.inbound_max_items,
        )
        self._contexts: dict[tuple[str, str | None], tuple[PartnerProfile, InboundContext]] = {}
        self._canonicals: dict[str, _Canonical] = {}
        self.between = (self.map, self.transform)

    def read(self, message: Incoming, tally: Tally) -> Parsed | list[Output]:
        """The message read and screened, or its refusal as a whole. Its items are mapped to drafts here, or in
        ``map``'s pass for a dialect in two steps."""
        partner = topics.partner_of(message.topic) or "?"
        profile = self.ctx.profiles.get(partner)
        event_type = subject_of(message.headers.get("ce_type") or "") or None
        tally.heard_from(partner)
        if profile is None:
            unknown = Rejected.one("partenaire_inconnu", f"aucun profil pour {partner}")
            return self._reject(message, partner, [self._failure(partner, event_type, unknown)], tally)
        # Before anything is read: a message passed off as another partner's is refused whole.
        forged = header_claim(partner, message.raw_headers)
        if forged is not None:
            rejected = Rejected((forged,))
            return self._reject(message, partner, [self._failure(partner, event_type, rejected)], tally)
        dialect = self._dialect(profile, event_type, message)
        if isinstance(dialect, Rejected):
            return self._reject(message, partner, [self._failure(partner, event_type, dialect)], tally)
        context = self._context(profile, event_type)
        sent_at = _sent_at(message)
        if isinstance(sent_at, Rejected):
            return self._reject(message, partner, [self._failure(partner, event_type, sent_at)], tally)
        shift = _line_shift(message)
        parser = self.dialects.parsers[dialect]
        if isinstance(parser, ReadThenMap):
            document = parser.read(message.value, context)
            if not isinstance(document, Rejected):
                return Parsed(partner, event_type, dialect, sent_at, [], Unmapped(parser, document, context, shift))
            outcomes: Iterable[Outcome] = (document,)
        else:
            outcomes = parser(message.value, context)
        items: list[Outcome | Encoded | Failure] = [_shifted(o, shift) for o in outcomes] if shift else [*outcomes]
        return Parsed(partner, event_type, dialect, sent_at, items)

    def map(self, _message: Incoming, read: Parsed | list[Output], _tally: Tally) -> Parsed | list[Output]:
        """The items of a message read by a dialect in two steps, mapped to drafts."""
        if isinstance(read, list) or read.unmapped is None:
            return read
        dialect, document, context, shift = read.unmapped
        outcomes = dialect.map(document, context)
        read.items = [_shifted(o, shift) for o in outcomes] if shift else [*outcomes]
        read.unmapped = None
        return read

    def transform(self, _message: Incoming, read: Parsed | list[Output], _tally: Tally) -> Parsed | list[Output]:
        """Each draft validated against its contract and encoded, or refused by it."""
        if isinstance(read, list):
            return read
        read.items = [
            self._contract(read.partner, item, read.dialect) if isinstance(item, Draft) else item for item in read.items
        ]
        return read

    def write(self, message: Incoming, read: Parsed | list[Output], tally: Tally) -> list[Output]:
        """Each encoded draft enveloped; the refused items in one DLQ and feedback record."""
        if isinstance(read, list):
            return read
        partner = read.partner
        outputs: list[Output] = []
        failures: list[Failure] = []
        for index, item in enumerate(read.items):
            if isinstance(item, Encoded):
                outputs.append(self._enveloped(message, partner, item, index, tally, read.sent_at))
            elif isinstance(item, Failure):
                failures.append(item)
            elif isinstance(item, Rejected):
                failures.append(self._failure(partner, item.subject or read.event_type, item))
            else:  # a draft ``transform`` did not see: ``write`` is only ever given what it returned
                raise TypeError(f"élément non validé : {type(item).__name__}")
        if not outputs and not failures:
            # A dialect that yields nothing would be a silent drop: the sender hears of it instead.
            empty = Rejected.one("vide", "le message ne contient aucun élément à traduire")
            failures.append(self._failure(partner, read.event_type, empty))
        if failures:
            outputs.extend(self._reject(message, partner, failures, tally, accepted=len(outputs)))
        return outputs

    def _context(self, profile: PartnerProfile, event_type: str | None) -> InboundContext:
        """The dialect's context, built once per partner and event (the event a name the catalogue knows, or none:
        a header's free text must not grow the cache)."""
        key = (profile.id, event_type if event_type in self.ctx.catalogue else None)
        cached = self._contexts.get(key)
        if cached is not None and cached[0] is profile:
            return cached[1]
        context = InboundContext(
            partner=profile.id,
            pseudonymiser=self.ctx.pseudonymiser,
            event_type=key[1],
            encoding=profile.csv.encoding,
            extras={"separateur": profile.csv.separator},
            shapes=self.ctx.shapes,
            limits=self.limits,
        )
        self._contexts[key] = (profile, context)
        return context

    def _dialect(self, profile: PartnerProfile, event_type: str | None, message: Incoming) -> Dialect | Rejected:
        if event_type:
            flow = profile.publishes.get(event_type)
            if flow is None:
                known = ", ".join(sorted(profile.publishes)) or "aucun"
                # The header is the sender's text: only a name from the catalogue is quoted in the message.
                named = event_type if event_type in self.ctx.catalogue else "cet événement"
                return Rejected.one(
                    "evenement_non_publie",
                    f"{profile.id} ne publie pas {named} selon son profil (publie : {known})",
                    "ce_type",
                    received=shown_value(event_type),
                )
            return flow.dialect
        by_type = _CONTENT_TYPES.get(message.headers.get("content-type", "").split(";")[0].strip())
        used = profile.dialects_sent
        if by_type in used:
            return by_type
        first = message.value[:1]
        if first.isspace():  # only then: stripping copies the whole message
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

    def _contract(self, partner: str, draft: Draft, dialect: Dialect) -> Encoded | Failure:
        to_native = self.dialects.native_paths.get(dialect)
        try:
            record = self.ctx.typed.validate(draft.subject, draft.record)
            # After the contract: a malformed code is a format error, a well-formed other Region's is usurpation.
            forged = record_claim(self.ctx.profiles[partner], draft.subject, record)
            if forged is not None:
                path = to_native(draft.subject, forged.path) if to_native else forged.path
                rejected = Rejected((replace(forged, path=path),), draft.position, draft.subject)
                return self._failure(partner, draft.subject, rejected)
            return Encoded(draft, self.ctx.codec.encode(draft.subject, record))
        except ValidationFailed as failed:
            problems = tuple(
                replace(p, path=to_native(draft.subject, p.path)) if to_native else p for p in failed.errors
            )
            rejected = Rejected(problems, draft.position, draft.subject)
            return self._failure(partner, draft.subject, rejected, f"{failed.subject} v{failed.version}")
        except ContractError as exc:
            rejected = Rejected.one(exc.code, str(exc), position=draft.position, subject=draft.subject)
            return self._failure(partner, draft.subject, rejected)

    def _enveloped(
        self, message: Incoming, partner: str, encoded: Encoded, index: int, tally: Tally, sent_at: datetime
    ) -> Output:
        draft = encoded.draft
        # The item's place in the message is part of its identity: one CSV file or JSON array may hold several
        # changes for the same positionnement (RECUE, then ADMIS), which must stay distinct events.
        item = f"{draft.native_id or draft.position}#{index}"
        canonical = self._canonicals.get(draft.subject) or self._canonical_of(draft.subject)
        input_id = message.input_id
        envelope = Envelope.new(
            canonical.type,
            partner,
            event_id=derived_id(input_id, item, draft.subject),
            correlation_id=message.headers.get("correlation_id") or input_id,
            traceparent=message.headers.get("traceparent") or new_trace_parent(),
            time=sent_at,
            dataschema=canonical.dataschema,
        )
        headers = envelope.to_headers()
        headers.append((CAUSE, message.dedupe_key.encode()))
        tally.count("in", partner, draft.subject, "ok")
        return Output(canonical.topic, encoded.value, draft.key.encode(), headers)

    def _canonical_of(self, subject: str) -> _Canonical:
        dataschema = self.ctx.dataschema(subject, self.ctx.catalogue.latest(subject).version)
        found = self._canonicals[subject] = _Canonical(topics.canonical(subject), event_type(subject), dataschema)
        return found

    def _failure(self, partner: str, event: str | None, rejected: Rejected, contract: str | None = None) -> Failure:
        if contract is None and event and event in self.ctx.catalogue:
            contract = f"{event} v{self.ctx.catalogue.latest(event).version}"
        sender = partner if partner in self.ctx.profiles else None
        known_event = event if event in self.ctx.catalogue else None  # a metric label: bounded to known events
        return Failure(self.ctx.service, sender, rejected.problems, contract, rejected.position, known_event)

    def _reject(
        self, message: Incoming, partner: str, failures: list[Failure], tally: Tally, accepted: int = 0
    ) -> list[Output]:
        budget = self.ctx.budget.max_bytes
        return reject(message, failures, tally, direction="in", partner=partner, accepted=accepted, budget=budget)


_LINE = re.compile(r"^ligne (\d+)")
_LINE_NUMBER = re.compile(r"[0-9]{1,9}")


def _line_shift(message: Incoming) -> int:
    """A CSV piece cut by ``passerelle ingest`` says where it starts in the original file."""
    first = message.headers.get(FIRST_LINE)
    if not first:
        return 0
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    return int(first) - 2 if _LINE_NUMBER.fullmatch(first) and int(first) > 2 else 0


def _shifted(outcome: Outcome, shift: int) -> Outcome:
    match = _LINE.match(outcome.position or "")
    if not match:
        return outcome
    position = f"ligne {int(match.group(1)) + shift}{(outcome.position or '')[match.end() :]}"
    return replace(outcome, position=position)


def _sent_at(message: Incoming) -> datetime | Rejected:
    """The sender's ``ce_time`` when given (it must then be a readable time in UTC's range), else the broker's."""
    text = message.headers.get("ce_time")
    if not text:
        try:
            return datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
        except (OverflowError, OSError, ValueError):  # a broker timestamp no calendar holds
            return datetime.now(UTC)
    try:
        moment = parse_time(text)
        # The envelope writes the time in UTC: an offset that crosses year 1 or 9999 cannot be written.
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return Rejected.one(
            "en_tete",
            "en-tête ce_time illisible ou hors limites : horodatage ISO 8601 attendu (ex. 2026-03-02T10:15:00Z)",
            "ce_time",
            rule="ce_time",
            expected="horodatage ISO 8601",
        )
    return moment
