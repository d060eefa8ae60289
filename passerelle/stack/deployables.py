"""The deployable services by name, imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Protocol

from passerelle.runtime.context import ServiceContext
from passerelle.runtime.service import ServiceRuntime
from passerelle.settings import Settings

SERVICES: dict[str, str] = {
    "milo-adapter": "services.milo_adapter.app",
    "region-adapter": "services.region_adapter.app",
    "router": "services.router.app",
    "indicators": "services.indicators.app",
}


class _Builder(Protocol):
    def __call__(self, settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime: ...


def build_service(name: str, settings: Settings) -> ServiceRuntime:
    if name not in SERVICES:
        raise ValueError(f"service inconnu : {name} (connus : {', '.join(SERVICES)})")
    module = importlib.import_module(SERVICES[name])
    builder: _Builder = module.build
    return builder(settings)
