"""The Mission Locale adapter: ``in.imilo`` → canonical, and ``deliver.imilo`` → ``out.imilo``, in I-MILO JSON."""

from __future__ import annotations

from typing import Any

from passerelle.core.dialect import Rendered
from passerelle.core.events import Dialect
from passerelle.core.partners import PartnerProfile
from passerelle.core.shapes import Shape
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.service import ServiceRuntime
from passerelle.settings import Settings
from services.adapter.service import adapter_runtime
from services.adapter.translators import Dialects
from services.milo_adapter.dialects import imilo_json

SERVICE = "milo_adapter"
PARTNER = "imilo"


def _render(subject: str, record: dict[str, Any], _profile: PartnerProfile, _shape: Shape) -> Rendered:
    return imilo_json.render(subject, record)


DIALECTS = Dialects(
    parsers={Dialect.IMILO_JSON: imilo_json.parse},
    renderers={Dialect.IMILO_JSON: _render},
    native_paths={Dialect.IMILO_JSON: imilo_json.native_path},
)


def build(settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime:
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    return adapter_runtime(ctx, DIALECTS, [PARTNER], "I-MILO JSON ⇄ événements canoniques")
