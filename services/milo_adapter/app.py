"""The Mission Locale adapter: ``in.imilo`` → canonical, and ``deliver.imilo`` → ``out.imilo``, in I-MILO JSON."""

from __future__ import annotations

from passerelle.core.events import ML_PARTNER, Dialect
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import HopSpec
from passerelle.runtime.service import ServiceRuntime
from passerelle.settings import Settings
from services.adapter.dialects import Dialects
from services.adapter.service import adapter_runtime, adapter_spec
from services.milo_adapter.dialects import imilo_json

SERVICE = "milo_adapter"

DIALECTS = Dialects(
    parsers={Dialect.IMILO_JSON: imilo_json.parse},
    renderers={Dialect.IMILO_JSON: imilo_json.render},
    native_paths={Dialect.IMILO_JSON: imilo_json.native_path},
)


def hop_spec(ctx: ServiceContext) -> HopSpec:
    return adapter_spec(ctx, [ML_PARTNER], "I-MILO JSON ⇄ événements canoniques")


def build(settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime:
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    return adapter_runtime(ctx, DIALECTS, hop_spec(ctx))
