"""A batch's tally reaches Prometheus once per batch, each series with what the batch counted."""

from __future__ import annotations

import time

from passerelle.metrics import ServiceMetrics
from passerelle.runtime.tally import Tally


def test_a_flushed_tally_sets_every_series_it_counted() -> None:
    metrics = ServiceMetrics("router")
    tally = Tally()
    for _ in range(3):
        tally.count("in", "imilo", "formation.Positionnement", "ok")
        tally.delivered("region-24", "formation.Positionnement")
        tally.heard_from("imilo")
    tally.rejected("imilo", "json")
    tally.took("region-24", "formation.Positionnement", 0.2)
    tally.took("region-24", "formation.Positionnement", 4.0)
    before = time.time()
    tally.flush(metrics, "router")
    value = metrics.registry.get_sample_value
    labels = {"partner": "region-24", "event": "formation.Positionnement"}
    assert (
        value(
            "passerelle_messages_total",
            {
                "service": "router",
                "direction": "in",
                "partner": "imilo",
                "event": "formation.Positionnement",
                "outcome": "ok",
            },
        )
        == 3
    )
    assert value("passerelle_dlq_messages_total", {"service": "router", "partner": "imilo", "reason": "json"}) == 1
    assert value("passerelle_deliveries_total", {"recipient": "region-24", "event": "formation.Positionnement"}) == 3
    assert value("passerelle_end_to_end_latency_seconds_count", labels) == 2
    assert value("passerelle_end_to_end_latency_seconds_sum", labels) == 4.2
    assert (value("passerelle_partner_last_message_timestamp_seconds", {"partner": "imilo"}) or 0) >= before
