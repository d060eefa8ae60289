"""Configuration from ``PASSERELLE_*`` environment variables.

One settings object is built at a service's edge and passed down; nothing
reads the environment anywhere else, so tests can build their own.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...). Unset: start the embedded Tansu broker.",
    )
    kafka_security: Literal["PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="PLAINTEXT",
        description=(
            "How this client proves who it is: SASL_SSL (SCRAM-SHA-512 over TLS, Apache Kafka's default listener), "
            "SSL (mutual TLS, a client certificate) or PLAINTEXT (the embedded broker, which knows no identity)."
        ),
    )
    kafka_username: str | None = Field(default=None, description="This service's or partner's Kafka principal name.")
    kafka_password: SecretStr | None = Field(default=None, description="Its SCRAM password.")
    kafka_password_file: Path | None = Field(
        default=None, description="File holding the SCRAM password (a container secret); overrides kafka_password."
    )
    kafka_ca_file: Path | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates."
    )
    kafka_cert_file: Path | None = Field(default=None, description="PEM client certificate (mutual TLS).")
    kafka_key_file: Path | None = Field(default=None, description="PEM key of the client certificate (mutual TLS).")
    producer_idempotence: bool = Field(
        default=True,
        description="Idempotent producer. Tansu's in-memory mode rejects it, so the embedded broker turns it off.",
    )
    producer_acks: str = Field(default="all", description="Producer acks: all, 1 or 0.")
    schemas_dir: Path = Field(default=PROJECT_ROOT / "schemas" / "avro", description="Avro contracts folder.")
    contracts_dir: Path = Field(
        default=PROJECT_ROOT / "contracts", description="Partner profiles, examples and AsyncAPI."
    )
    registry_url: str | None = Field(
        default=None,
        description="Schema registry URL (Passerelle's, Karapace or Confluent's); unset: ids derived from each schema.",
    )
    pseudonym_secret: SecretStr = Field(
        default=SecretStr("dev-only-secret-change-me"),
        description="HMAC key of the young person's pseudonym. Held outside the bus; set it in production.",
    )
    log_format: str = Field(default="console", description="console (development) or json (production).")
    log_level: str = Field(default="INFO", description="Log level.")
    metrics_port: int = Field(default=0, description="Port of /metrics and /health; 0 picks a free port.")
    batch_max_records: int = Field(default=2000, description="Largest batch a service consumes at once.")
    gc_young_threshold: int = Field(
        default=20_000,
        description=(
            "New containers between two collections of Python's youngest generation in a service (Python's "
            "default 700 collected every few messages, a tenth of a hop's time); 0 keeps Python's defaults."
        ),
    )
    batch_timeout_ms: int = Field(
        default=20,
        description=(
            "Longest a hop waits for a first record before its own checks, in milliseconds (100 at least). "
            "A batch is what has arrived by then: never waited for."
        ),
    )
    producer_linger_ms: int = Field(
        default=5, description="Producer linger: how long a batch of outputs may wait to fill, in milliseconds."
    )
    max_record_bytes: int = Field(
        default=1_000_000,
        description="Largest record a service produces; lowered at start to the broker's message.max.bytes.",
    )
    inbound_max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        description="Largest native message a partner may send (a JSON document, a CSV file, an LHEO document).",
    )
    inbound_max_field_chars: int = Field(
        default=64 * 1024,
        description="Longest field of a native message (a JSON string or key, a CSV cell, an XML text), in characters.",
    )
    inbound_max_depth: int = Field(
        default=32, description="Deepest nesting of JSON objects and arrays, or of XML elements, in a native message."
    )
    inbound_max_items: int = Field(
        default=50_000, description="Most items in one native message: JSON array elements, CSV rows, LHEO sessions."
    )
    instance_id: str = Field(
        default_factory=socket.gethostname,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description=(
            "This instance's stable name (the pod's name): the same across restarts, distinct for each instance "
            "scaled out. Names its transactional id (a restart fences the old one) and the router's audit chain."
        ),
    )
    transaction_timeout_ms: int = Field(
        default=30_000,
        description="How long a crashed instance's open transaction may hold read_committed readers back.",
    )
    consumer_session_timeout_ms: int = Field(
        default=45_000,
        description="How long the group waits for a silent consumer. The embedded broker holds a join for half of it.",
    )
    transactions: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: transactional hops when the broker really implements transactions (probed); off: never.",
    )
    dedupe_memory: int = Field(
        default=200_000,
        description="Inputs remembered for idempotence; also how many recent outputs per partition are read at start.",
    )
    create_topics: bool = Field(
        default=True, description="Create missing topics at start (embedded and dev); production runs the topics job."
    )
    topic_configs: bool = Field(default=True, description="Set retention and other configs when creating topics.")
    reference_dir: Path | None = Field(
        default=None,
        description="Folder holding structures_ml.csv (Mission Locale structures, communes); unset: shipped sample.",
    )
    indicators_interval_s: float = Field(
        default=60.0, description="How often the indicators service publishes pilotage.Indicateurs events, in seconds."
    )
    fetch_max_wait_ms: int = Field(
        default=500,
        description=(
            "Longest the broker holds a fetch with no data. Kafka answers as soon as data arrives, so Kafka's "
            "own default fits; the embedded broker does not, and runs with 25 ms (see docs/performance.md)."
        ),
    )
    pseudonym_secret_file: Path | None = Field(
        default=None, description="File holding the pseudonym key (a container secret); overrides pseudonym_secret."
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description=(
            "PEM file of the router's Ed25519 audit signing key (a container secret, router only). The router "
            "refuses to start without it; the local stack makes an ephemeral one."
        ),
    )
    audit_public_key_file: Path | None = Field(
        default=None,
        description=(
            "PEM file of the audit public keys, current and former: what audit verify checks signatures with, "
            "and what the router trusts when it resumes its chain after a key rotation."
        ),
    )

    gateway_issuer: str = Field(
        default="http://localhost:8090",
        description="Issuer (iss) of the partners' OAuth2 access tokens that the partner gateway accepts.",
    )
    gateway_audience: str = Field(
        default="passerelle-gateway", description="Audience (aud) the partner gateway's access tokens must name."
    )
    gateway_jwks_url: str | None = Field(
        default=None,
        description=(
            "Where the partner gateway reads the issuer's public keys (JWKS): https://… in production, file://… for "
            "a local issuer. Unset: the gateway refuses every token."
        ),
    )
    gateway_rate_per_s: float = Field(
        default=5.0, description="Requests per second each partner may make to the gateway (per replica)."
    )
    gateway_burst: int = Field(
        default=20, description="Requests a partner may make at once to the gateway before its rate applies."
    )
    gateway_replication_factor: int = Field(
        default=1,
        description="Replication of the gateway's Idempotency-Key topic when it is created (3 in production).",
    )
    gateway_max_body_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Largest body the partner gateway accepts (a CSV export or LHEO feed, published in pieces).",
    )
    gateway_webhook_secrets_dir: Path | None = Field(
        default=None,
        description="Folder of each partner's webhook signing secret: <partner>.secret holding whsec_<base64>.",
    )

    @model_validator(mode="after")
    def _secret_from_file(self) -> Settings:
        if self.pseudonym_secret_file is not None:
            secret = self.pseudonym_secret_file.read_text(encoding="utf-8").strip()
            if not secret:
                raise ValueError(f"{self.pseudonym_secret_file} est vide : la clé des pseudonymes est requise")
            self.pseudonym_secret = SecretStr(secret)
        if self.kafka_password_file is not None:
            self.kafka_password = SecretStr(self.kafka_password_file.read_text(encoding="utf-8").strip())
        return self
