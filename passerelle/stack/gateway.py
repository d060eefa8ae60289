"""The partner gateway wired: the adapters' own translations lent to it, its keys on the broker, its issuer's keys.

The gateway checks what a partner posts with the adapter that will read it (I-MILO's for the Missions Locales,
the Regions' for a Region) and cuts an LHEO feed with the LHEO dialect's own splitter; both belong to other
services, so this composition root lends them and ``services.gateway`` stays independent of them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr

from passerelle.core import events
from passerelle.core.partners import Profiles
from passerelle.runtime.context import ServiceContext
from passerelle.settings import Settings
from services.adapter.inbound import InboundTranslator
from services.gateway.app import Gateway, create_app
from services.gateway.auth import TokenVerifier, signing_keys
from services.gateway.delivery import Destination, HttpSender, PartnerDelivery, WebhookDeliveries
from services.gateway.events import EventSource, KafkaEvents, MemoryEvents
from services.gateway.idempotency import AnswerStore, KafkaAnswers, MemoryAnswers
from services.gateway.intake import Borrowed
from services.gateway.limits import RateLimits
from services.gateway.metrics import GatewayMetrics
from services.gateway.publish import KafkaPublisher, Publisher
from services.gateway.webhooks import secret_key
from services.milo_adapter import app as milo_adapter
from services.region_adapter import app as region_adapter

# The check's pseudonyms are never published (the adapter computes its own), so the gateway never holds the key.
_CHECK_SECRET = "verification-passerelle"  # noqa: S105


def borrowed(settings: Settings) -> Borrowed:
    """The adapters' inbound translations, as run offline by ``contracts validate --partner``."""
    offline = settings.model_copy(
        update={"pseudonym_secret": SecretStr(_CHECK_SECRET), "pseudonym_secret_file": None, "registry_url": None}
    )
    translators = {
        events.MISSION_LOCALE: InboundTranslator(
            ServiceContext.build(milo_adapter.SERVICE, offline), milo_adapter.DIALECTS
        ),
        events.REGION: InboundTranslator(
            ServiceContext.build(region_adapter.SERVICE, offline), region_adapter.DIALECTS
        ),
    }
    return Borrowed(translators)


def verifier(settings: Settings, profiles: Profiles) -> TokenVerifier:
    keys = signing_keys(settings.gateway_jwks_url) if settings.gateway_jwks_url else None
    return TokenVerifier(keys, settings.gateway_issuer, settings.gateway_audience, frozenset(profiles.ids))


def webhook_secret(folder: Path | None, partner: str) -> str:
    """The partner's signing secret, read from its file (never from its profile, which is public)."""
    path = folder / f"{partner}.secret" if folder else None
    if path is None or not path.is_file():
        where = path or "PASSERELLE_GATEWAY_WEBHOOK_SECRETS_DIR/<partenaire>.secret"
        raise ValueError(f"le profil de {partner} nomme un webhook mais son secret est absent : {where}")
    secret = path.read_text(encoding="utf-8").strip()
    secret_key(secret)  # a malformed secret stops the start, not the first delivery
    return secret


def webhooks(
    settings: Settings, profiles: Profiles, secrets: Path | None, metrics: GatewayMetrics
) -> WebhookDeliveries | None:
    """A delivery per partner whose profile names a webhook; None when none does or there is no broker."""
    named = [p for p in profiles if p.webhook is not None]
    if not named or not settings.kafka_bootstrap:
        return None
    sender = HttpSender()
    deliveries = [
        PartnerDelivery(
            settings,
            Destination(p.id, p.webhook.url, webhook_secret(secrets, p.id), p.webhook.outage_max_hours * 3600.0),
            sender,
            metrics,
        )
        for p in named
        if p.webhook is not None
    ]
    return WebhookDeliveries(deliveries, sender)


def build_gateway(
    settings: Settings,
    answers: AnswerStore | None = None,
    publisher: Publisher | None = None,
    *,
    profiles: Profiles | None = None,
    events: EventSource | None = None,
    webhook_secrets: Path | None = None,
) -> Gateway:
    """A gateway on the settings' broker; ``answers``, ``publisher``, ``events`` and ``profiles`` replace the
    broker's and the contracts' in tests. The webhook secrets are read from ``webhook_secrets``, else from the
    folder ``PASSERELLE_GATEWAY_WEBHOOK_SECRETS_DIR`` names."""
    profiles = profiles or Profiles.load(settings.contracts_dir / "partners", None)
    if answers is None:
        answers = KafkaAnswers(settings) if settings.kafka_bootstrap else MemoryAnswers()
    if events is None:
        events = KafkaEvents(settings) if settings.kafka_bootstrap else MemoryEvents()
    gateway = Gateway(
        profiles=profiles,
        verifier=verifier(settings, profiles),
        borrowed=borrowed(settings),
        answers=answers,
        publisher=publisher or KafkaPublisher(settings),
        limits=RateLimits(settings.gateway_rate_per_s, settings.gateway_burst),
        max_body_bytes=settings.gateway_max_body_bytes,
        max_json_bytes=settings.max_record_bytes - 64 * 1024,  # room for the record's headers
        events=events,
    )
    secrets = webhook_secrets or settings.gateway_webhook_secrets_dir
    gateway.webhooks = webhooks(settings, profiles, secrets, gateway.metrics)
    return gateway


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory passerelle.stack.gateway:app_from_environment`` in the production stack."""
    from passerelle.logging import configure

    settings = Settings()
    configure(settings.log_format, settings.log_level)
    return create_app(build_gateway(settings))
