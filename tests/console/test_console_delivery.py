"""The partner page says how the partner receives, and a webhook's state as the gateway's metrics report it."""

from __future__ import annotations

from passerelle.core.partners import PartnerProfile
from services.console.pages import delivery_of
from services.console.sources import Sample

PROFILE = {"id": "region-24", "nom": "Région Centre-Val de Loire", "famille": "region", "region": "24"}
HOOKED = PartnerProfile.model_validate(
    {**PROFILE, "webhook": {"url": "https://si.region.example/p", "panne_max_heures": 6}}
)


def _gauges(paused: float, failing: float, backlog: float, partner: str = "region-24") -> list[Sample]:
    return [
        Sample("passerelle_gateway_webhook_paused", {"partner": partner}, paused),
        Sample("passerelle_gateway_webhook_failing_seconds", {"partner": partner}, failing),
        Sample("passerelle_gateway_webhook_backlog_messages", {"partner": partner}, backlog),
    ]


def test_a_partner_without_webhook_reads_kafka_or_the_pull_api() -> None:
    said = delivery_of(PartnerProfile.model_validate(PROFILE), _gauges(1, 50, 3))
    assert said == "Kafka (out.region-24, feedback.region-24) ou API de lecture (/v1/partners/region-24/events)"


def test_a_webhook_state_comes_from_the_gateway_metrics_of_that_partner_only() -> None:
    assert delivery_of(HOOKED, _gauges(0, 0, 0)).endswith("— livre, 0 message(s) en attente")
    assert "en échec depuis 120 s, 7 message(s) en attente" in delivery_of(HOOKED, _gauges(0, 120, 7))
    assert "suspendu" in delivery_of(HOOKED, _gauges(1, 30_000, 900))
    assert "panne tolérée 6 h" in delivery_of(HOOKED, [])
    assert "état inconnu" in delivery_of(HOOKED, _gauges(1, 50, 3, partner="region-53"))
