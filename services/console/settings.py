"""The console's own configuration, from ``PASSERELLE_CONSOLE_*`` variables.

Built once at the console's edge (the local stack) and passed to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.runtime.operator import OperatorCredential, password_in

ENV_PREFIX = "PASSERELLE_CONSOLE_"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    metrics_urls: str = Field(
        default="",
        description="The /metrics URLs of the running services, comma-separated: the console's only source of counts.",
    )
    operator_user: str | None = Field(
        default=None, description="User name of the console's operator (HTTP Basic). Unset: every page refused."
    )
    operator_password_file: Path | None = Field(
        default=None, description="File holding the operator's password (a container secret)."
    )

    @model_validator(mode="after")
    def _complete(self) -> ConsoleSettings:
        if (self.operator_user is None) != (self.operator_password_file is None):
            missing = "OPERATOR_USER" if self.operator_user is None else "OPERATOR_PASSWORD_FILE"
            raise ValueError(f"identifiant d'opérateur de la console incomplet : {ENV_PREFIX}{missing} manque")
        self.operator()  # an empty file or name refused at start rather than at login
        return self

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(url.strip() for url in self.metrics_urls.split(",") if url.strip())

    def operator(self) -> OperatorCredential | None:
        """The operator's credential, or None when none is configured (the console then refuses every page)."""
        if self.operator_user is None or self.operator_password_file is None:
            return None
        return OperatorCredential(self.operator_user, password_in(self.operator_password_file))
