"""The Region adapter: every Region's native flows (LHEO, JSON, CSV) ⇄ canonical, dialect per profile."""

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
from services.region_adapter.dialects import common, lheo, region_csv, region_json

SERVICE = "region_adapter"


def _render_json(subject: str, record: dict[str, Any], _profile: PartnerProfile, shape: Shape) -> Rendered:
    return region_json.render(subject, record, shape)


def _render_csv(subject: str, record: dict[str, Any], profile: PartnerProfile, shape: Shape) -> Rendered:
    csv = profile.csv
    return region_csv.render(subject, record, shape, encoding=csv.encoding, separator=csv.separator)


DIALECTS = Dialects(
    parsers={
        Dialect.LHEO_XML: lheo.parse_lheo,
        Dialect.REGION_JSON: region_json.parse,
        Dialect.REGION_CSV: region_csv.parse,
    },
    renderers={Dialect.REGION_JSON: _render_json, Dialect.REGION_CSV: _render_csv},
    native_paths={Dialect.REGION_JSON: common.json_path, Dialect.REGION_CSV: common.csv_column},
)


def build(settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime:
    ctx = ctx or ServiceContext.build(SERVICE, settings)
    regions = [p.id for p in ctx.profiles if p.family == "region"]
    return adapter_runtime(ctx, DIALECTS, regions, "LHEO, JSON et CSV des Régions ⇄ événements canoniques")
