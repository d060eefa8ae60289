"""What every CLI command shares: settings and the catalogue, built once at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from passerelle.broker.access import KafkaAccess
from passerelle.cli.exits import Misconfigured
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.settings import Settings


@dataclass
class CliState:
    debug: bool = False
    settings: Settings = field(default_factory=Settings)

    def access(self) -> KafkaAccess:
        """The cluster and this command's identity there (``PASSERELLE_KAFKA_*``), or a clear refusal."""
        if not self.settings.kafka_bootstrap:
            raise Misconfigured("PASSERELLE_KAFKA_BOOTSTRAP n'est pas défini (voir « passerelle dev up »)")
        try:
            return KafkaAccess.of(self.settings)
        except ValueError as error:
            raise Misconfigured(f"accès Kafka incomplet : {error}") from None

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue.load(self.settings.schemas_dir)

    @cached_property
    def profiles(self) -> Profiles:
        return Profiles.load(self.settings.contracts_dir / "partners", frozenset(self.catalogue.subjects))
