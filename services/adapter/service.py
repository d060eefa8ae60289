"""An adapter service: one hop over its partners' ``in.*`` (inbound) and ``deliver.*`` (outbound) topics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from passerelle.broker import topics
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.passes import ReadThenWrite
from passerelle.runtime.service import ServiceRuntime
from passerelle.runtime.tally import Tally
from services.adapter.dialects import Dialects
from services.adapter.inbound import InboundTranslator
from services.adapter.outbound import OutboundTranslator


class AdapterProcessor(ReadThenWrite):
    """One consumer for both directions: ``in.*`` goes inbound, ``deliver.*`` goes outbound."""

    def __init__(self, ctx: ServiceContext, dialects: Dialects) -> None:
        self.inbound = InboundTranslator(ctx, dialects)
        self.outbound = OutboundTranslator(ctx, dialects)
        self.between = (self.map, self.transform)

    def read(self, message: Incoming, tally: Tally) -> object:
        if message.topic.startswith("in."):
            return self.inbound.read(message, tally)
        return self.outbound.read(message, tally)

    # Inbound, the mapping then the contract; outbound, the rendering (an input of the other direction goes
    # through a pass as it was read).
    def map(self, message: Incoming, read: Any, tally: Tally) -> Any:
        return self.inbound.map(message, read, tally) if message.topic.startswith("in.") else read

    def transform(self, message: Incoming, read: Any, tally: Tally) -> Any:
        if message.topic.startswith("in."):
            return self.inbound.transform(message, read, tally)
        return self.outbound.render(message, read, tally)

    def write(self, message: Incoming, read: Any, tally: Tally) -> list[Output]:
        if message.topic.startswith("in."):
            return self.inbound.write(message, read, tally)
        return self.outbound.write(message, read, tally)


def adapter_spec(ctx: ServiceContext, partners: Sequence[str], description: str) -> HopSpec:
    """What an adapter reads and writes for ``partners``: its hop, and its access rights on Kafka."""
    inputs = [t for p in partners for t in (topics.inbound(p), topics.deliver(p))]
    outputs = [
        *(topics.canonical(s) for s in ctx.catalogue.subjects),
        *(t for p in partners for t in (topics.outbound(p), topics.feedback(p))),
        topics.dlq(ctx.service),
    ]
    return HopSpec(ctx.service, inputs, outputs, description)


def adapter_runtime(ctx: ServiceContext, dialects: Dialects, spec: HopSpec) -> ServiceRuntime:
    hop = Hop(spec, AdapterProcessor(ctx, dialects), ctx.settings, ctx.metrics, budget=ctx.budget)
    return ServiceRuntime(ctx, [hop])
