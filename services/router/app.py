"""The router service: ``canon.*`` → one ``deliver.<partner>`` per recipient, minimised, and audited."""

from __future__ import annotations

from typing import Any, NamedTuple

import structlog

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.core.audit import AuditChain
from passerelle.core.envelope import AUDIT_TYPE, JSON_CONTENT_TYPE, MillisecondClock, event_type, format_time
from passerelle.core.headers import CAUSE, SENDER
from passerelle.core.problems import Problem
from passerelle.core.reference import ReferenceData, load_reference
from passerelle.core.views import ViewPlans
from passerelle.runtime.audit import chain_head, load_signer, trusted_keys
from passerelle.runtime.canonical import CanonicalInput, read_canonical
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.failures import Failure, reject
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.passes import ReadThenWrite
from passerelle.runtime.service import ServiceRuntime
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from services.router.recipients import Route, RoutingError, recipients

SERVICE = "router"
_AUDIT_SOURCE = f"passerelle/{SERVICE}"

log = structlog.get_logger("passerelle.router")


class Minimised(NamedTuple):
    """One recipient's delivery of an event: the Avro bytes of its view, and the fields that view shows."""

    recipient: str
    value: bytes
    fields: list[str]


class Routed(NamedTuple):
    canonical: CanonicalInput
    route: Route
    # Filled by ``minimise``, in the order of the route's partners.
    deliveries: tuple[Minimised, ...] = ()


class RouterProcessor(ReadThenWrite):
    """Decides recipients and views for each canonical event; its audit chain advances only on commit."""

    def __init__(self, ctx: ServiceContext, reference: ReferenceData, chain: AuditChain) -> None:
        self.ctx = ctx
        self.reference = reference
        self.chain = chain
        self.views = ViewPlans(ctx.catalogue)
        self._chain_key = chain.chain_id.encode()  # the audit topic's key: one chain, one partition, in order
        self._clock = MillisecondClock()
        self.between = (self.minimise,)

    def read(self, message: Incoming, tally: Tally) -> Routed | list[Output]:
        """The canonical event decoded and its recipients decided, or its refusal."""
        canonical = read_canonical(message, self.ctx.codec)
        if isinstance(canonical, Problem):
            return self._reject(message, None, None, canonical, tally)
        sender, subject = canonical.envelope.source, canonical.decoded.subject
        try:
            route = recipients(subject, canonical.decoded.record, sender, self.ctx.profiles, self.reference)
        except RoutingError as exc:
            problem = Problem(exc.code, exc.message, exc.path or "$", exc.code)
            return self._reject(message, sender, subject, problem, tally)
        return Routed(canonical, route)

    def minimise(self, message: Incoming, read: Routed | list[Output], _tally: Tally) -> Routed | list[Output]:
        """Each recipient's view of the event, encoded: its own pass, apart from the envelopes and the audit."""
        if isinstance(read, list):
            return read
        decoded, route = read.canonical.decoded, read.route
        subject = decoded.subject
        schema = self.ctx.catalogue.get(subject, decoded.version)
        deliveries = []
        for recipient in route.partners:
            reception = self.ctx.profiles[recipient].receives[subject]
            minimised, fields = self.views.apply(schema, route.record, reception)
            if route.record is decoded.record and self.views.withholds_nothing(schema, reception):
                value = message.value  # nothing to withhold or add: the canonical bytes are the delivery
            else:
                value = self.ctx.codec.encode(subject, minimised, decoded.version)
            deliveries.append(Minimised(recipient, value, fields))
        return read._replace(deliveries=tuple(deliveries))

    def write(self, message: Incoming, read: Routed | list[Output], tally: Tally) -> list[Output]:
        """One delivery per recipient, each with its audit record, appended to the chain in input order."""
        if isinstance(read, list):
            return read
        envelope, decoded = read.canonical.envelope, read.canonical.decoded
        sender, subject = envelope.source, decoded.subject
        # Once per input: every delivery and audit record of it carries the same time, cause and type.
        when, cause, type_ = format_time(envelope.time), (CAUSE, message.dedupe_key.encode()), event_type(subject)
        dataschema = self.ctx.dataschema(subject, decoded.version)
        outputs: list[Output] = []
        for recipient, value, fields in read.deliveries:
            delivery = envelope.derive(type_, sender, derived_id(envelope.id, recipient), dataschema=dataschema)
            headers = delivery.to_headers(when)
            headers += [cause, (SENDER, sender.encode())]
            outputs.append(Output(topics.deliver(recipient), value, message.key, headers))
            audit = self.chain.append(
                event_id=envelope.id,
                event_type=subject,
                sender=sender,
                recipient=recipient,
                fields=fields,
                delivery_id=delivery.id,
                recorded_at=self._clock.text(),
            )
            # The audit record is a CloudEvent of its own, caused by the delivery it records.
            audited = delivery.derive(AUDIT_TYPE, _AUDIT_SOURCE, derived_id(delivery.id, "audit"), JSON_CONTENT_TYPE)
            outputs.append(Output(topics.AUDIT_TOPIC, audit, self._chain_key, [*audited.to_headers(when), cause]))
            tally.delivered(recipient, subject)
        tally.count("in", sender, subject, "ok")
        return outputs

    def commit(self) -> None:
        self.chain.commit()

    def rollback(self) -> None:
        self.chain.rollback()

    def _reject(
        self, message: Incoming, sender: str | None, subject: str | None, problem: Problem, tally: Tally
    ) -> list[Output]:
        known = sender if sender in self.ctx.profiles else None
        failure = Failure(SERVICE, known, (problem,), event=subject)
        budget = self.ctx.budget.max_bytes
        return reject(message, [failure], tally, direction="in", partner=sender, budget=budget)


def hop_spec(ctx: ServiceContext) -> HopSpec:
    inputs = [topics.canonical(s) for s in ctx.catalogue.subjects]
    outputs = [
        *(topics.deliver(p) for p in ctx.profiles.ids),
        *(topics.feedback(p) for p in ctx.profiles.ids),
        topics.AUDIT_TOPIC,
        topics.dlq(SERVICE),
    ]
    return HopSpec(SERVICE, inputs, outputs, "Destinataires, vue RGPD par profil, livraison et journal chaîné")


def build(settings: Settings, ctx: ServiceContext | None = None, **_: Any) -> ServiceRuntime:
    # Before anything else: a router that cannot sign must not deliver.
    signer = load_signer(settings)
    keys = trusted_keys(settings, signer)
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    reference = load_reference(settings.reference_dir)
    # One chain per router instance, named after it, so it continues across restarts and never interleaves.
    chain = AuditChain(settings.instance_id, signer)

    async def resume_chain() -> None:
        head = await chain_head(KafkaAccess.of(settings), chain.chain_id, keys)
        if head is not None:
            chain.resume(*head)
        event = "audit.chaine_reprise" if head else "audit.chaine_nouvelle"
        log.info(event, chaine=chain.chain_id, derniere_sequence=chain.head[1], cle=signer.key_id)

    hop = Hop(hop_spec(ctx), RouterProcessor(ctx, reference, chain), settings, ctx.metrics, budget=ctx.budget)
    return ServiceRuntime(ctx, [hop], before_start=[resume_chain])
