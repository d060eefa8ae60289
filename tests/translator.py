"""The adapters' inbound flow without a broker: a message in, the drafts it became and every refusal, recorded.

``Recording`` is the real ``InboundTranslator`` (dialect, contract validation, Avro encoding, envelope) with its
two exits observed: each draft that reached the contract and each ``Rejected`` before it became a DLQ record.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from passerelle.core.dialect import Draft, Rejected
from passerelle.core.events import Dialect
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.failures import Failure
from passerelle.runtime.messages import Incoming, Output
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from services.adapter.dialects import Dialects
from services.adapter.inbound import Encoded, InboundTranslator
from services.milo_adapter import app as milo
from services.region_adapter import app as region


@dataclass
class Seen:
    drafts: list[Draft] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)

    @property
    def canonical(self) -> list[Output]:
        return [o for o in self.outputs if o.topic.startswith("canon.")]

    @property
    def problems(self) -> list[str]:
        return [p.code for r in self.rejected for p in r.problems]


class Recording(InboundTranslator):
    def __init__(self, ctx: ServiceContext, dialects: Dialects) -> None:
        super().__init__(ctx, dialects)
        self.seen = Seen()

    def _contract(self, partner: str, draft: Draft, dialect: Dialect) -> Encoded | Failure:
        self.seen.drafts.append(draft)
        return super()._contract(partner, draft, dialect)

    def _failure(self, partner: str, event: str | None, rejected: Rejected, contract: str | None = None) -> Failure:
        self.seen.rejected.append(rejected)
        return super()._failure(partner, event, rejected, contract)

    def run(self, message: Incoming) -> Seen:
        self.seen = Seen()
        self.seen.outputs = self.process(message, Tally())
        return self.seen


@functools.cache
def service_context(service: str) -> ServiceContext:
    return ServiceContext.build(service, Settings(pseudonym_secret="secret-de-test"))


def translator(partner: str) -> Recording:
    """The translator of the adapter that reads ``partner``'s messages, as the service builds it (offline)."""
    app = milo if partner == "imilo" else region
    return Recording(service_context(app.SERVICE), app.DIALECTS)


def incoming(
    partner: str, value: bytes, offset: int = 0, headers: Mapping[str, str] | None = None, **named: str
) -> Incoming:
    """A record of ``in.<partner>`` as the hop reads it."""
    text = {"ce_id": f"essai-{partner}-{offset}", **(headers or {}), **named}
    raw = tuple((k, v.encode()) for k, v in text.items())
    return Incoming(f"in.{partner}", 0, offset, None, value, text, raw, 1_764_000_000_000)
