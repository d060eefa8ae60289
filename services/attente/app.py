"""The waiting-alert service: follows positionnements until answer and entry, publishes ``formation.AttenteProlongee``.

Its state is rebuilt at start from the canonical topics it follows and from its own output topic (the alerts
already published), then kept live by its hop; a check every ``PASSERELLE_ATTENTE_INTERVALLE_S`` (and the
« verifier » action) publishes the waits past their Region's thresholds. docs/attente.md says the rest.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import KafkaException

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import collect
from passerelle.core.contracts.errors import ContractError
from passerelle.core.envelope import Envelope, event_type
from passerelle.core.headers import CAUSE
from passerelle.core.partners import Profiles, Waiting
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import Hop, HopSpec
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.service import ServiceRuntime
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from services.attente.domain import FOLLOWED, SUBJECT, WaitingState
from services.attente.settings import AttenteSettings

SERVICE = "attente"
OUTPUT = topics.canonical(SUBJECT)
log = structlog.get_logger("passerelle.attente")


def thresholds_of(profiles: Profiles) -> Callable[[str], Waiting]:
    """The funding Region's thresholds, from its profile; the documented defaults for a Region without one."""
    default = Waiting()

    def of(region: str) -> Waiting:
        profile = profiles.get(f"region-{region}")
        return profile.waiting if profile is not None else default

    return of


class AttenteProcessor:
    def __init__(self, ctx: ServiceContext, state: WaitingState, settings: AttenteSettings) -> None:
        self.ctx = ctx
        self.state = state
        self.settings = settings
        self.thresholds = thresholds_of(ctx.profiles)
        # The hop's thread applies events while the check reads the state from the event loop.
        self._lock = threading.Lock()

    def apply(self, value: bytes) -> str | None:
        try:
            decoded = self.ctx.codec.decode(value)
        except ContractError:
            return None
        with self._lock:
            if decoded.subject == SUBJECT:
                self.state.remember([str(decoded.record["idAttente"])])
            else:
                self.state.apply(decoded.subject, decoded.record)
        return decoded.subject

    def process(self, message: Incoming, tally: Tally) -> list[Output]:
        subject = self.apply(message.value)
        tally.count("in", message.headers.get("ce_source", "?"), subject or "illisible", "ok" if subject else "ignore")
        return []

    def due(self, now: datetime) -> list[Output]:
        """One ``formation.AttenteProlongee`` per wait past its threshold and not published yet."""
        with self._lock:
            today = self.settings.today(self.state.latest, now)
            records = self.state.due(today, self.thresholds) if today else []
        schema = self.ctx.dataschema(SUBJECT, self.ctx.catalogue.latest(SUBJECT).version)
        out: list[Output] = []
        for record in records:
            alert = record["idAttente"]
            envelope = Envelope.new(event_type(SUBJECT), "passerelle", event_id=alert, time=now, dataschema=schema)
            headers = [*envelope.to_headers(), (CAUSE, alert.encode())]
            out.append(Output(OUTPUT, self.ctx.codec.encode(SUBJECT, record), record["pseudonyme"].encode(), headers))
        return out

    def published(self, outputs: list[Output]) -> None:
        with self._lock:
            self.state.remember(dict(o.headers)[CAUSE].decode() for o in outputs)


def hop_spec(ctx: ServiceContext) -> HopSpec:  # noqa: ARG001 - every service's hop_spec takes its context
    return HopSpec(
        SERVICE,
        [topics.canonical(s) for s in FOLLOWED],
        # Its own alerts: read back at start so that no wait is reported twice.
        [OUTPUT],
        "Attentes trop longues entre positionnement, réponse et entrée en formation",
        accounts_every_input=False,
    )


def build(settings: Settings, ctx: ServiceContext | None = None, **_: Any) -> ServiceRuntime:
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    own = AttenteSettings()
    processor = AttenteProcessor(ctx, WaitingState(), own)
    spec = hop_spec(ctx)
    hop = Hop(spec, processor, settings, ctx.metrics, budget=ctx.budget)
    access = KafkaAccess.of(settings)

    async def rebuild() -> None:
        # Its own alerts too: a rebuild from the start of the topics then finds every wait already reported.
        for topic in [*spec.inputs, *spec.outputs]:
            for record in await collect(access, topic):
                processor.apply(record.value or b"")

    one_check = asyncio.Lock()  # the periodic check and the action must not publish the same alert twice

    async def check() -> None:
        async with one_check:
            outputs = processor.due(datetime.now(UTC))
            await hop.publish(outputs)
            processor.published(outputs)
        if outputs:
            log.info("attente.alertes_publiees", nombre=len(outputs))

    async def check_periodically() -> None:
        while True:
            await asyncio.sleep(own.intervalle_s)
            try:
                await check()
            except KafkaException as exc:  # the broker is away: the next check publishes what this one could not
                log.warning("attente.publication_impossible", erreur=str(exc.args[0]))

    return ServiceRuntime(
        ctx, [hop], background=[check_periodically], before_start=[rebuild], actions={"verifier": check}
    )
