"""The waiting-alert service's own configuration, from ``PASSERELLE_ATTENTE_*`` variables."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PASSERELLE_ATTENTE_"
EVENT_TIME = "evenements"
SYSTEM_TIME = "systeme"


class AttenteSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    horloge: str = Field(
        default=EVENT_TIME,
        description=(
            "Le jour auquel les attentes sont mesurées : « evenements » (la date la plus récente des positionnements, "
            "statuts et entrées reçus, jamais au-delà de demain), « systeme » (la date du jour, UTC) ou une date "
            "AAAA-MM-JJ fixe (essais, démonstration)."
        ),
    )
    intervalle_s: float = Field(
        default=3600.0, gt=0, description="Secondes entre deux recherches d'attentes trop longues."
    )

    @field_validator("horloge")
    @classmethod
    def _clock(cls, value: str) -> str:
        if value not in (EVENT_TIME, SYSTEM_TIME):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"horloge attendue : {EVENT_TIME}, {SYSTEM_TIME} ou une date AAAA-MM-JJ (reçu : {value})"
                ) from None
        return value

    def today(self, latest_event: dt.date | None, now: dt.datetime) -> dt.date | None:
        """The day waits are measured against; None while event time has seen no event yet."""
        if self.horloge == SYSTEM_TIME:
            return now.date()
        if self.horloge != EVENT_TIME:
            return dt.date.fromisoformat(self.horloge)
        # A mistyped date far ahead would otherwise report every wait at once.
        ceiling = now.date() + dt.timedelta(days=1)
        return min(latest_event, ceiling) if latest_event else None
