"""What every CLI command shares: settings and the catalogue, built once at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.settings import Settings


@dataclass
class CliState:
    debug: bool = False
    settings: Settings = field(default_factory=Settings)

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue.load(self.settings.schemas_dir)

    @cached_property
    def profiles(self) -> Profiles:
        return Profiles.load(self.settings.contracts_dir / "partners", frozenset(self.catalogue.subjects))
