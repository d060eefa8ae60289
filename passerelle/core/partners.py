"""Partner profiles (``contracts/partners/*.yaml``): what each partner publishes and receives,
in which dialect, and which personal fields it may see.

Onboarding a Region that uses existing dialects is a new profile file, not code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cached_property
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

from passerelle.core import events
from passerelle.core.contracts.formats import REGIONS
from passerelle.core.events import Dialect, Family

PiiCategory = Literal["identite", "contact", "sensible"]
PARTNER_ID = re.compile(r"imilo|region-[0-9]{2}")


def supported(dialect: Dialect, direction: str) -> tuple[str, ...]:
    """Events a dialect can carry: ``publishes`` (partner → Passerelle) or ``receives``."""
    return events.sent_in(dialect) if direction == "publishes" else events.received_in(dialect)


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file and the field."""


class _Strict(BaseModel):
    # English in code, French in the YAML files the partners' people read: every field has its French alias.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_alias=True, validate_by_name=True)


class Publication(_Strict):
    dialect: Dialect = Field(alias="dialecte")


class Reception(_Strict):
    dialect: Dialect = Field(alias="dialecte")
    view: tuple[PiiCategory, ...] = Field(
        default=(),
        alias="vue",
        description="Catégories de données personnelles livrées (le pseudonyme l'est toujours).",
    )
    free_text: bool = Field(
        default=False, alias="texte_libre", description="Livrer les champs de texte libre (commentaires)."
    )


class CsvOptions(_Strict):
    encoding: Literal["utf-8", "latin-1"] = Field(default="utf-8", alias="encodage")
    separator: str = Field(default=";", alias="separateur")


# Defaults when a Region's profile says nothing (docs/attente.md): three weeks for a first answer, a month to enter.
DEFAULT_ANSWER_DAYS = 21
DEFAULT_ENTRY_DAYS = 30


class Waiting(_Strict):
    """How long a young person may wait, per step, before the Region and the Mission Locale are told."""

    answer_max_days: int = Field(
        default=DEFAULT_ANSWER_DAYS,
        ge=1,
        le=365,
        alias="reponse_max_jours",
        description="Jours sans aucun statut de candidature après le positionnement avant l'alerte.",
    )
    entry_max_days: int = Field(
        default=DEFAULT_ENTRY_DAYS,
        ge=1,
        le=365,
        alias="entree_max_jours",
        description="Jours entre l'admission et l'entrée en formation avant l'alerte.",
    )


DEFAULT_OUTAGE_HOURS = 24
_HTTPS = re.compile(r"https://[^\s/?#@]+(/\S*)?")
# A signed body in clear text only to a receiver on the same machine (a developer's, a test's).
_LOCAL_HTTP = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/\S*)?")


class Webhook(_Strict):
    """Where the gateway pushes the partner's deliveries and feedback (Standard Webhooks); the secret is elsewhere."""

    url: str = Field(description="Adresse HTTPS qui reçoit les livraisons et les retours, signés.")
    outage_max_hours: int = Field(
        default=DEFAULT_OUTAGE_HOURS,
        ge=1,
        le=7 * 24,  # out.<partner> keeps 7 days: a longer outage would lose messages
        alias="panne_max_heures",
        description="Panne du récepteur couverte par les nouvelles tentatives ; au-delà, la livraison se suspend.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (_HTTPS.fullmatch(value) or _LOCAL_HTTP.fullmatch(value)):
            raise ValueError("adresse attendue : https://… (http:// seulement vers 127.0.0.1 ou localhost)")
        return value


class PartnerProfile(_Strict):
    id: str
    name: str = Field(alias="nom")
    family: Family = Field(alias="famille")
    region: str | None = None
    publishes: dict[str, Publication] = Field(default_factory=dict, alias="publie")
    receives: dict[str, Reception] = Field(default_factory=dict, alias="recoit")
    csv: CsvOptions = CsvOptions()
    silence_max_hours: int | None = Field(
        default=None,
        alias="silence_max_heures",
        description="Alerte si le partenaire n'a rien publié depuis ce nombre d'heures.",
    )
    webhook: Webhook | None = Field(
        default=None, description="Livraison poussée par la passerelle ; sans elle, le partenaire lit par l'API."
    )
    waiting: Waiting = Field(
        default=Waiting(),
        alias="attente",
        description="Seuils d'attente des jeunes positionnés sur les sessions que finance la Région.",
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

    @field_validator("publishes", "receives")
    @classmethod
    def _events(cls, value: Mapping[str, Publication | Reception], info: ValidationInfo) -> Mapping[str, object]:
        known = (info.context or {}).get("events")
        direction = info.field_name or ""
        for event, flow in value.items():
            if known is not None and event not in known:
                raise ValueError(f"événement inconnu : {event} (connus : {', '.join(sorted(known))})")
            if event not in supported(flow.dialect, direction):
                french = "publie" if direction == "publishes" else "recoit"
                raise ValueError(f"le dialecte {flow.dialect.value} ne sait pas porter {event} ({french})")
        return value

    @cached_property
    def dialects_sent(self) -> frozenset[Dialect]:
        """The dialects this partner publishes in: what a message of its without ``ce_type`` may be read as."""
        return frozenset(flow.dialect for flow in self.publishes.values())

    @model_validator(mode="after")
    def _coherent(self) -> PartnerProfile:
        if self.family == events.REGION:
            if self.region is None or self.id != f"region-{self.region}":
                raise ValueError("une Région a un code « region » et l'identifiant region-<code>")
        elif self.id != events.ML_PARTNER:
            raise ValueError("le système des Missions Locales a l'identifiant « imilo »")
        return self


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
