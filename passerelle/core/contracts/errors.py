"""Errors a contract operation can raise. Each one names what an integrator needs to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field

from passerelle.core.problems import Problem


class ContractError(Exception):
    """Base of every contract error; ``code`` is stable and goes into DLQ headers."""

    code = "contrat"


class UnknownSubject(ContractError):
    code = "sujet_inconnu"

    def __init__(self, subject: str) -> None:
        super().__init__(f"sujet inconnu : {subject!r}")
        self.subject = subject


class UnknownVersion(ContractError):
    code = "version_inconnue"

    def __init__(self, subject: str, version: int | str) -> None:
        super().__init__(f"version inconnue : {subject!r} version {version}")
        self.subject = subject
        self.version = version


class UnknownSchemaId(ContractError):
    code = "schema_id_inconnu"

    def __init__(self, schema_id: int) -> None:
        super().__init__(f"identifiant de schéma inconnu : {schema_id}")
        self.schema_id = schema_id


class WireFormatError(ContractError):
    """The bytes are not in the Confluent wire format (magic byte, header length)."""

    code = "format_fil"


class DecodeError(ContractError):
    code = "decodage"

    def __init__(self, subject: str, schema_id: int, reason: str) -> None:
        super().__init__(f"décodage impossible ({subject}, schéma {schema_id}) : {reason}")
        self.subject = subject
        self.schema_id = schema_id


class EncodeError(ContractError):
    code = "encodage"

    def __init__(self, subject: str, version: int, reason: str) -> None:
        super().__init__(f"encodage impossible ({subject} v{version}) : {reason}")
        self.subject = subject
        self.version = version


@dataclass
class ValidationFailed(ContractError):
    """A record broke its contract: carries every field error and the contract version."""

    subject: str
    version: int
    errors: list[Problem] = field(default_factory=list)
    code = "validation"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        first = "; ".join(f"{e.path} : {e.message}" for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5})" if len(self.errors) > 5 else ""
        return f"{self.subject} v{self.version} : {first}{more}"
