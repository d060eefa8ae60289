"""The deployable services by name, imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Protocol

from passerelle.broker import topics
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.service import ServiceRuntime
from passerelle.settings import Settings

# Command-line name → the module whose ``build`` makes the service; the ids are the topics module's.
SERVICES: dict[str, str] = {service.replace("_", "-"): f"services.{service}.app" for service in topics.SERVICES}


class _Builder(Protocol):
    def __call__(self, settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime: ...


def build_service(name: str, settings: Settings) -> ServiceRuntime:
    if name not in SERVICES:
        raise ValueError(f"service inconnu : {name} (connus : {', '.join(SERVICES)})")
    module = importlib.import_module(SERVICES[name])
    builder: _Builder = module.build
    return builder(settings)
