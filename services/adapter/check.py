"""A native message checked offline by the partner's own adapter, for integrators before they go live.

Nothing is published: the message goes through the same translator as on the bus, and the outcome is what
``canon.*`` and the partner's feedback topic would receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from passerelle.broker import topics
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.messages import Incoming
from passerelle.runtime.tally import Tally
from services.adapter.dialects import Dialects
from services.adapter.inbound import InboundTranslator


@dataclass
class NativeReport:
    accepted: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0


def check_native(ctx: ServiceContext, dialects: Dialects, partner: str, event: str, payload: bytes) -> NativeReport:
    translator = InboundTranslator(ctx, dialects)
    incoming = Incoming(
        topics.inbound(partner), 0, 0, None, payload, {"ce_id": "verification", "ce_type": event}, (), 0
    )
    report = NativeReport()
    for output in translator.process(incoming, Tally()):
        if output.topic.startswith("canon."):
            report.accepted += 1
        elif output.topic == topics.feedback(partner):
            body = orjson.loads(output.value)
            report.rejected += body["rejetes"]
            report.problems.extend(body["erreurs"])
    return report
