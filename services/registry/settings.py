"""The registry's own configuration: its topic and who may write, from ``PASSERELLE_REGISTRY_*`` variables.

Built once at the registry's edge (``passerelle registry serve``, the local stack) and passed to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.runtime.operator import OperatorCredential, password_in

ENV_PREFIX = "PASSERELLE_REGISTRY_"


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    topic: str = Field(
        default="_schemas",
        description="Kafka topic holding the registry's schemas (compacted; Karapace's and Confluent's layout).",
    )
    replication_factor: int = Field(
        default=1, ge=1, description="Replication of that topic when created (3 in production)."
    )
    operator_user: str | None = Field(
        default=None,
        description="User name of the registry's operator, the only one who may write. Unset: read-only registry.",
    )
    operator_password: SecretStr | None = Field(
        default=None, description="The operator's password (HTTP Basic); prefer operator_password_file."
    )
    operator_password_file: Path | None = Field(
        default=None, description="File holding the operator's password (a container secret); overrides the password."
    )

    @model_validator(mode="after")
    def _password_from_file(self) -> RegistrySettings:
        if self.operator_password_file is not None:
            self.operator_password = password_in(self.operator_password_file)
        if (self.operator_user is None) != (self.operator_password is None):
            missing = "OPERATOR_USER" if self.operator_user is None else "OPERATOR_PASSWORD ou OPERATOR_PASSWORD_FILE"
            raise ValueError(f"identifiant d'opérateur du registre incomplet : {ENV_PREFIX}{missing} manque")
        self.operator()  # refuses an empty name or password, or a name with « : », at start rather than at login
        return self

    def operator(self) -> OperatorCredential | None:
        """The operator's credential, or None when none is configured (the registry then refuses every write)."""
        if self.operator_user is None or self.operator_password is None:
            return None
        return OperatorCredential(self.operator_user, self.operator_password)
