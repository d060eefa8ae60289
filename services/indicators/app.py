"""The indicators service: canonical training and dropout events in, indicators out (metrics and events)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import collect
from passerelle.core.contracts.errors import ContractError
from passerelle.core.envelope import Envelope, event_type
from passerelle.core.headers import CAUSE
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output, derived_id
from passerelle.runtime.service import ServiceRuntime
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from services.indicators.domain import FOLLOWED, IndicatorState
from services.indicators.metrics import IndicatorCollector

SERVICE = "indicators"
SUBJECT = "pilotage.Indicateurs"


class IndicatorsProcessor:
    def __init__(self, ctx: ServiceContext, state: IndicatorState) -> None:
        self.ctx = ctx
        self.state = state

    def apply(self, value: bytes) -> str | None:
        try:
            decoded = self.ctx.codec.decode(value)
        except ContractError:
            return None
        self.state.apply(decoded.subject, decoded.record)
        return decoded.subject

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        subject = self.apply(message.value)
        tally.count("in", message.headers.get("ce_source", "?"), subject or "illisible", "ok" if subject else "ignore")
        return []

    def outputs(self, now: datetime) -> list[Output]:
        """The current indicators as ``pilotage.Indicateurs`` events, one per region and month."""
        out: list[Output] = []
        for record in self.state.snapshot(now):
            event_id = derived_id(SUBJECT, record["region"], record["mois"], now.isoformat())
            schema = self.ctx.dataschema(SUBJECT, self.ctx.catalogue.latest(SUBJECT).version)
            envelope = Envelope.new(event_type(SUBJECT), "passerelle", event_id=event_id, time=now, dataschema=schema)
            value = self.ctx.codec.encode(SUBJECT, record)
            headers = [*envelope.to_headers(), (CAUSE, event_id.encode())]
            out.append(Output(topics.canonical(SUBJECT), value, record["region"].encode(), headers))
        return out


def hop_spec(ctx: ServiceContext) -> HopSpec:  # noqa: ARG001 - every service's hop_spec takes its context
    return HopSpec(
        SERVICE,
        [topics.canonical(s) for s in FOLLOWED],
        [],
        "Indicateurs de la convention : délais, taux d'entrée, décrochage",
        accounts_every_input=False,
        publishes=[topics.canonical(SUBJECT)],
    )


def build(settings: Settings, ctx: ServiceContext | None = None, **_: Any) -> ServiceRuntime:
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    state = IndicatorState()
    processor = IndicatorsProcessor(ctx, state)
    ctx.metrics.registry.register(IndicatorCollector(lambda: state))
    spec = hop_spec(ctx)
    inputs = spec.inputs
    hop = Hop(spec, processor, settings, ctx.metrics, budget=ctx.budget)
    access = KafkaAccess.of(settings)

    async def rebuild() -> None:
        # State is rebuilt from the canonical topics, then kept live by the hop (updates are idempotent).
        for topic in inputs:
            for record in await collect(access, topic):
                processor.apply(record.value or b"")

    async def publish_periodically() -> None:
        while True:
            await asyncio.sleep(settings.indicators_interval_s)
            await hop.publish(processor.outputs(datetime.now(UTC)))

    async def publish_now() -> None:
        await hop.publish(processor.outputs(datetime.now(UTC)))

    return ServiceRuntime(
        ctx,
        [hop],
        background=[publish_periodically],
        before_start=[rebuild],
        actions={"publier": publish_now},
    )
