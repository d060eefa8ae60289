"""How a client reaches the Kafka cluster and who it is there: one value, read by every client library.

On Apache Kafka every partner and every service has its own principal (``User:<name>``): SCRAM-SHA-512 over TLS
on the default listener, or a client certificate on the mutual-TLS one. The embedded broker knows no identity
and is reached in plaintext. ``KafkaAccess`` carries the address, the protocol and the credential, and turns
them into what aiokafka, librdkafka (confluent-kafka) and FastStream each expect, so no call site spells a
security setting.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from passerelle.settings import Settings

SCRAM = "SCRAM-SHA-512"


class Protocol(StrEnum):
    """Kafka's ``security.protocol`` values Passerelle uses."""

    PLAINTEXT = "PLAINTEXT"  # the embedded broker only: no identity, no encryption
    SASL_SSL = "SASL_SSL"  # SCRAM-SHA-512 over TLS: the default listener
    SSL = "SSL"  # mutual TLS: the client certificate is the identity


@dataclass(frozen=True)
class KafkaAccess:
    """The bootstrap servers and, on a secured cluster, the identity to present there."""

    bootstrap: str
    protocol: Protocol = Protocol.PLAINTEXT
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.protocol is Protocol.SASL_SSL and (not self.username or self.password is None):
            raise ValueError("SASL_SSL demande un nom d'utilisateur et un mot de passe")
        if self.protocol is Protocol.SSL and (self.cert_file is None or self.key_file is None):
            raise ValueError("le TLS mutuel demande un certificat client et sa clé")

    @property
    def secured(self) -> bool:
        return self.protocol is not Protocol.PLAINTEXT

    @property
    def hosts(self) -> list[str]:
        return [host.strip() for host in self.bootstrap.split(",") if host.strip()]

    def as_user(self, username: str, password: str | SecretStr) -> KafkaAccess:
        """The same cluster, over SCRAM as another principal."""
        secret = password if isinstance(password, SecretStr) else SecretStr(password)
        return replace(self, protocol=Protocol.SASL_SSL, username=username, password=secret, cert_file=None,
                       key_file=None)  # fmt: skip

    def with_certificate(self, cert_file: Path, key_file: Path) -> KafkaAccess:
        """The same cluster, over mutual TLS with this certificate (``bootstrap`` must name the TLS listener)."""
        return replace(self, protocol=Protocol.SSL, username=None, password=None, cert_file=cert_file,
                       key_file=key_file)  # fmt: skip

    def with_ca(self, ca_file: Path) -> KafkaAccess:
        return replace(self, ca_file=ca_file)

    def at(self, bootstrap: str) -> KafkaAccess:
        return replace(self, bootstrap=bootstrap)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.secured:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None and self.key_file is not None:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.protocol.value}
        if self.secured:
            options["ssl_context"] = self.ssl_context()
        if self.protocol is Protocol.SASL_SSL:
            assert self.password is not None
            options |= {
                "sasl_mechanism": SCRAM,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password.get_secret_value(),
            }
        return options

    def librdkafka(self) -> dict[str, Any]:
        """librdkafka's connection properties (confluent-kafka's Consumer, Producer and AdminClient)."""
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "security.protocol": self.protocol.value}
        if self.ca_file is not None:
            config["ssl.ca.location"] = str(self.ca_file)
        if self.cert_file is not None and self.key_file is not None:
            config["ssl.certificate.location"] = str(self.cert_file)
            config["ssl.key.location"] = str(self.key_file)
        if self.protocol is Protocol.SASL_SSL:
            assert self.password is not None
            config |= {
                "sasl.mechanism": SCRAM,
                "sasl.username": self.username,
                "sasl.password": self.password.get_secret_value(),
            }
        return config

    def faststream(self) -> dict[str, Any]:
        """Keyword arguments of FastStream's ``KafkaBroker``: a list of hosts, which it otherwise takes for one."""
        from faststream.security import BaseSecurity, SASLScram512

        security: BaseSecurity | None = None
        if self.protocol is Protocol.SASL_SSL:
            assert self.username is not None and self.password is not None
            security = SASLScram512(self.username, self.password.get_secret_value(), ssl_context=self.ssl_context())
        elif self.protocol is Protocol.SSL:
            security = BaseSecurity(ssl_context=self.ssl_context())
        return {"bootstrap_servers": self.hosts, "security": security}

    def settings_fields(self) -> dict[str, Any]:
        """The ``Settings`` fields that say the same (``Settings(**access.settings_fields(), ...)``)."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security": self.protocol.value,
            "kafka_username": self.username,
            "kafka_password": self.password,
            "kafka_ca_file": self.ca_file,
            "kafka_cert_file": self.cert_file,
            "kafka_key_file": self.key_file,
        }

    def environment(self) -> dict[str, str]:
        """The ``PASSERELLE_KAFKA_*`` variables that say the same, for a process started with them."""
        values = {name: value for name, value in self.settings_fields().items() if value is not None}
        if self.password is not None:
            values["kafka_password"] = self.password.get_secret_value()
        return {f"PASSERELLE_{name.upper()}": str(value) for name, value in values.items()}

    @classmethod
    def of(cls, settings: Settings) -> KafkaAccess:
        """The access a service's settings describe (``PASSERELLE_KAFKA_*``)."""
        if settings.kafka_bootstrap is None:
            raise ValueError("aucun broker : PASSERELLE_KAFKA_BOOTSTRAP n'est pas défini")
        return cls(
            settings.kafka_bootstrap,
            Protocol(settings.kafka_security),
            settings.kafka_username,
            settings.kafka_password,
            settings.kafka_ca_file,
            settings.kafka_cert_file,
            settings.kafka_key_file,
        )

    def __str__(self) -> str:
        who = f" en tant que {self.username}" if self.username else ""
        return f"{self.bootstrap} ({self.protocol.value}{who})"
