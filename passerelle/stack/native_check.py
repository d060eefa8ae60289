"""A native message checked offline by the partner's own adapter, for integrators before they go live.

Nothing is published: the message goes through the same translator as on the bus, and the outcome is what
``canon.*`` and the partner's feedback topic would receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import SecretStr

from passerelle.broker import topics
from passerelle.core.partners import Profiles
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import Tally
from passerelle.runtime.messages import Incoming
from passerelle.settings import Settings
from services.adapter.translators import InboundTranslator

_CHECK_SECRET = "verification-hors-ligne"  # pseudonyms computed here are never published


@dataclass
class NativeReport:
    accepted: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0


def check_native(settings: Settings, partner: str, event: str, payload: bytes) -> NativeReport:
    from services.milo_adapter.app import DIALECTS as MILO
    from services.milo_adapter.app import SERVICE as MILO_SERVICE
    from services.region_adapter.app import DIALECTS as REGION
    from services.region_adapter.app import SERVICE as REGION_SERVICE

    secret = SecretStr(_CHECK_SECRET)
    offline = settings.model_copy(update={"pseudonym_secret": secret, "pseudonym_secret_file": None})
    profiles = Profiles.load(settings.contracts_dir / "partners", None)
    profile = profiles.get(partner)
    if profile is None:
        raise ValueError(f"partenaire inconnu : {partner} (connus : {', '.join(profiles.ids)})")
    milo = profile.family == "mission_locale"
    ctx = ServiceContext.build(MILO_SERVICE if milo else REGION_SERVICE, offline)
    translator = InboundTranslator(ctx, MILO if milo else REGION)
    incoming = Incoming(
        topics.inbound(partner), 0, 0, None, payload, {"ce_id": "verification", "ce_type": event}, (), 0
    )
    report = NativeReport()
    for output in translator.process(incoming, Tally()):
        if output.topic.startswith("canon."):
            report.accepted += 1
        elif output.topic == topics.feedback(partner):
            body = orjson.loads(output.value)
            report.rejected += 1
            for error in body["erreurs"]:
                report.problems.append({**error, "position": body.get("position")})
    return report
