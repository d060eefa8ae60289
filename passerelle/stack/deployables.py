"""The deployable services by name, imported only when asked for."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Protocol

from passerelle.broker import topics
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import HopSpec
from passerelle.runtime.service import ServiceRuntime
from passerelle.settings import Settings

# Command-line name → the module whose ``build`` makes the service; the ids are the topics module's.
SERVICES: dict[str, str] = {service.replace("_", "-"): f"services.{service}.app" for service in topics.SERVICES}


class _Builder(Protocol):
    def __call__(self, settings: Settings, ctx: ServiceContext | None = None) -> ServiceRuntime: ...


class _Spec(Protocol):
    def __call__(self, ctx: ServiceContext) -> HopSpec: ...


def _module(name: str) -> ModuleType:
    if name not in SERVICES:
        raise ValueError(f"service inconnu : {name} (connus : {', '.join(SERVICES)})")
    return importlib.import_module(SERVICES[name])


def build_service(name: str, settings: Settings) -> ServiceRuntime:
    builder: _Builder = _module(name).build
    return builder(settings)


def hop_spec_of(name: str, settings: Settings) -> HopSpec:
    """What the service reads and writes, as its own module declares it, without building or connecting it."""
    spec: _Spec = _module(name).hop_spec
    return spec(ServiceContext.build(name.replace("-", "_"), settings))
