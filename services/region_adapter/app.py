"""The Region adapter: every Region's native flows (LHEO, JSON, CSV) ⇄ canonical, dialect per profile."""

from __future__ import annotations

from passerelle.core import events
from passerelle.core.events import Dialect
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import HopSpec
from passerelle.runtime.service import ServiceRuntime
from passerelle.settings import Settings
from services.adapter.dialects import Dialects
from services.adapter.service import adapter_runtime, adapter_spec
from services.region_adapter.dialects import common, lheo, region_csv, region_json

SERVICE = "region_adapter"

DIALECTS = Dialects(
    parsers={
        Dialect.LHEO_XML: lheo.parse_lheo,
        Dialect.REGION_JSON: region_json.parse,
        Dialect.REGION_CSV: region_csv.parse,
    },
    renderers={Dialect.REGION_JSON: region_json.render, Dialect.REGION_CSV: region_csv.render},
    native_paths={Dialect.REGION_JSON: common.json_path, Dialect.REGION_CSV: common.csv_column},
)


def hop_spec(ctx: ServiceContext) -> HopSpec:
    regions = [p.id for p in ctx.profiles if p.family == events.REGION]
    return adapter_spec(ctx, regions, "LHEO, JSON et CSV des Régions ⇄ événements canoniques")


def build(settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime:
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    return adapter_runtime(ctx, DIALECTS, hop_spec(ctx))
