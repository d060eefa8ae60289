"""Partner profiles (``contracts/partners/*.yaml``): what each partner publishes and receives,
in which dialect, and which personal fields it may see.

Onboarding a Region that uses existing dialects is a new profile file, not code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from passerelle.core.contracts.formats import REGIONS

PiiCategory = Literal["identite", "contact", "sensible"]
PARTNER_ID = re.compile(r"imilo|region-[0-9]{2}")


class Dialect(str, Enum):
    IMILO_JSON = "imilo-json"
    LHEO_XML = "lheo-xml"
    REGION_JSON = "region-json"
    REGION_CSV = "region-csv"


ML_PUBLISHES = ("formation.Positionnement", "reperage.SuiteSignalement", "aide.DemandeAide")
REGION_PUBLISHES = (
    "formation.OffreSession",
    "formation.StatutCandidature",
    "formation.EntreeFormation",
    "formation.SortieFormation",
    "reperage.SignalementDecrochage",
    "aide.DecisionAide",
    "orientation.EvenementOrientation",
)
INDICATORS = "pilotage.Indicateurs"

# Which dialect can carry which event, in which direction (what the adapters implement).
SUPPORTED: dict[Dialect, dict[str, tuple[str, ...]]] = {
    Dialect.IMILO_JSON: {"publie": ML_PUBLISHES, "recoit": (*REGION_PUBLISHES, INDICATORS)},
    Dialect.LHEO_XML: {"publie": ("formation.OffreSession",), "recoit": ()},
    Dialect.REGION_JSON: {"publie": REGION_PUBLISHES[1:], "recoit": (*ML_PUBLISHES, INDICATORS)},
    Dialect.REGION_CSV: {"publie": REGION_PUBLISHES[1:], "recoit": (*ML_PUBLISHES, INDICATORS)},
}


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Publication(_Strict):
    dialecte: Dialect


class Reception(_Strict):
    dialecte: Dialect
    vue: tuple[PiiCategory, ...] = Field(
        default=(), description="Catégories de données personnelles livrées (le pseudonyme l'est toujours)."
    )
    texte_libre: bool = Field(default=False, description="Livrer les champs de texte libre (commentaires).")


class CsvOptions(_Strict):
    encodage: Literal["utf-8", "latin-1"] = "utf-8"
    separateur: str = ";"


class PartnerProfile(_Strict):
    id: str
    nom: str
    famille: Literal["mission_locale", "region"]
    region: str | None = None
    publie: dict[str, Publication] = Field(default_factory=dict)
    recoit: dict[str, Reception] = Field(default_factory=dict)
    csv: CsvOptions = CsvOptions()
    silence_max_heures: int | None = Field(
        default=None, description="Alerte si le partenaire n'a rien publié depuis ce nombre d'heures."
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not PARTNER_ID.fullmatch(value):
            raise ValueError("identifiant attendu : « imilo » ou « region-<code INSEE> » (ex. region-24)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and value not in REGIONS:
            raise ValueError(f"code de région inconnu : {value} (attendu : {', '.join(REGIONS)})")
        return value

    @field_validator("publie", "recoit")
    @classmethod
    def _events(cls, value: Mapping[str, Publication | Reception], info: ValidationInfo) -> Mapping[str, object]:
        known = (info.context or {}).get("events")
        direction = info.field_name or ""
        for event, flow in value.items():
            if known is not None and event not in known:
                raise ValueError(f"événement inconnu : {event} (connus : {', '.join(sorted(known))})")
            if event not in SUPPORTED[flow.dialecte][direction]:
                raise ValueError(f"le dialecte {flow.dialecte.value} ne sait pas porter {event} ({direction})")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> PartnerProfile:
        if self.famille == "region":
            if self.region is None or self.id != f"region-{self.region}":
                raise ValueError("une Région a un code « region » et l'identifiant region-<code>")
        elif self.id != "imilo":
            raise ValueError("le système des Missions Locales a l'identifiant « imilo »")
        return self

    def dialect_in(self, event: str) -> Dialect | None:
        flow = self.publie.get(event)
        return flow.dialecte if flow else None


class Profiles:
    """Every partner profile, by id."""

    def __init__(self, profiles: Mapping[str, PartnerProfile]) -> None:
        self._by_id = dict(profiles)

    @classmethod
    def load(cls, folder: Path, events: frozenset[str] | None = None) -> Profiles:
        profiles: dict[str, PartnerProfile] = {}
        for path in sorted(folder.glob("*.yaml")):
            profile = load_profile(path, events)
            if profile.id in profiles:
                raise ProfileError(f"{path.name} : identifiant {profile.id} déjà défini")
            profiles[profile.id] = profile
        return cls(profiles)

    def __getitem__(self, partner: str) -> PartnerProfile:
        return self._by_id[partner]

    def get(self, partner: str) -> PartnerProfile | None:
        return self._by_id.get(partner)

    def __iter__(self) -> Iterator[PartnerProfile]:
        return iter(self._by_id.values())

    def __contains__(self, partner: object) -> bool:
        return partner in self._by_id

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def region(self, code: str) -> PartnerProfile | None:
        return self._by_id.get(f"region-{code}")

    def receivers_of(self, event: str) -> list[PartnerProfile]:
        return [p for p in self._by_id.values() if event in p.recoit]


def load_profile(path: Path, events: frozenset[str] | None = None) -> PartnerProfile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path.name} : YAML illisible : {exc}") from None
    try:
        return PartnerProfile.model_validate(raw, context={"events": events})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "/"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "champ inconnu"
        elif first["type"] == "enum":
            message = f"valeur inconnue, attendue parmi : {first.get('ctx', {}).get('expected', '')}"
        raise ProfileError(f"{path.name} : {where} : {message}") from None
