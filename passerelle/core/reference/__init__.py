"""Reference data shipped with Passerelle: regions, Mission Locale structures and the communes they serve.

The structures file in the package is a realistic *sample*, clearly marked
as such; point ``PASSERELLE_REFERENCE_DIR`` at a folder holding a
``structures_ml.csv`` of the same form to use the national list.
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from passerelle.core.contracts.formats import FORMATS, REGIONS

STRUCTURES_FILE = "structures_ml.csv"


class ReferenceDataError(ValueError):
    """A reference file is wrong; the message names the file and the line."""


@dataclass(frozen=True)
class Structure:
    code: str
    name: str
    region: str
    departement: str
    communes: tuple[str, ...]


@dataclass(frozen=True)
class ReferenceData:
    structures: Mapping[str, Structure]
    by_commune: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def regions(self) -> Mapping[str, str]:
        return REGIONS

    def region_of_structure(self, code: str) -> str | None:
        found = self.structures.get(code)
        return found.region if found else None

    def structures_for_commune(self, commune: str) -> tuple[str, ...]:
        return self.by_commune.get(commune, ())

    def structures_in_region(self, region: str) -> list[Structure]:
        return [s for s in self.structures.values() if s.region == region]


def load_reference(folder: Path | None = None) -> ReferenceData:
    """The shipped sample, or ``folder/structures_ml.csv`` when a folder is given."""
    if folder is not None:
        path = folder / STRUCTURES_FILE
        if not path.is_file():
            raise ReferenceDataError(f"{path.name} introuvable dans le dossier de référence indiqué")
        return parse_structures(path.read_text(encoding="utf-8"), path.name)
    text = importlib.resources.files(__package__).joinpath(STRUCTURES_FILE).read_text(encoding="utf-8")
    return parse_structures(text, STRUCTURES_FILE)


def parse_structures(text: str, name: str) -> ReferenceData:
    structures: dict[str, Structure] = {}
    by_commune: dict[str, list[str]] = {}
    lines = [
        (n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")
    ]
    for number, row in ((n, next(csv.reader([line], delimiter=";"))) for n, line in lines):
        where = f"{name}, ligne {number}"
        if len(row) != 5:
            raise ReferenceDataError(f"{where} : 5 colonnes attendues (code;nom;region;departement;communes)")
        code, label, region, departement, communes = (c.strip() for c in row)
        if not FORMATS["structure_ml"].matches(code):
            raise ReferenceDataError(f"{where} : code de structure invalide ({FORMATS['structure_ml'].expected})")
        if region not in REGIONS:
            raise ReferenceDataError(f"{where} : région inconnue {region!r}")
        codes = tuple(c for c in communes.split("|") if c)
        for commune in codes:
            if not FORMATS["commune_insee"].matches(commune):
                raise ReferenceDataError(f"{where} : code INSEE de commune invalide {commune!r}")
            by_commune.setdefault(commune, []).append(code)
        if code in structures:
            raise ReferenceDataError(f"{where} : structure {code} déjà définie")
        structures[code] = Structure(code, label, region, departement, codes)
    return ReferenceData(structures, {c: tuple(s) for c, s in by_commune.items()})
