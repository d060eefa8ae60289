"""Everything a service needs, built once at its edge from the settings and passed down."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.partners import Profiles
from passerelle.core.privacy import Pseudonymiser
from passerelle.core.shapes import Shape, shape_of
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.failures import RecordBudget
from passerelle.runtime.registry import RegistryReader, dataschema
from passerelle.settings import Settings


@dataclass(frozen=True)
class ServiceContext:
    service: str
    settings: Settings
    catalogue: Catalogue
    codec: AvroCodec
    typed: TypedContracts
    profiles: Profiles
    pseudonymiser: Pseudonymiser
    metrics: ServiceMetrics
    shapes: Mapping[str, Shape]
    # Shared with the service's hops, which lower it to the broker's message limit at start.
    budget: RecordBudget
    # The contract registry the codec takes its ids from (bound at start), if one is configured.
    registry: RegistryReader | None = None

    @classmethod
    def build(cls, service: str, settings: Settings, metrics: ServiceMetrics | None = None) -> ServiceContext:
        catalogue = Catalogue.load(settings.schemas_dir)
        profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
        metrics = metrics or ServiceMetrics(service)
        registry = RegistryReader(settings.registry_url) if settings.registry_url else None
        for profile in profiles:
            if profile.silence_max_hours:
                metrics.silence_allowed.labels(profile.id).set(profile.silence_max_hours * 3600)
        return cls(
            service=service,
            settings=settings,
            catalogue=catalogue,
            codec=AvroCodec(catalogue, registry.fetch if registry else None),
            typed=TypedContracts(catalogue),
            profiles=profiles,
            pseudonymiser=Pseudonymiser(settings.pseudonym_secret.get_secret_value().encode()),
            metrics=metrics,
            shapes={s: shape_of(s, catalogue.latest(s).schema) for s in catalogue.subjects},
            budget=RecordBudget(settings.max_record_bytes),
            registry=registry,
        )

    def dataschema(self, subject: str, version: int) -> str:
        return dataschema(subject, version, self.settings.registry_url)

    async def bind_registry(self) -> None:
        """Frame records with the registry's ids: asked once, before any record is written."""
        if self.registry is not None:
            registry = self.registry
            self.codec.bind(await asyncio.to_thread(registry.ids_of, self.catalogue))
