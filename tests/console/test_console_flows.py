"""The « Flux » page's lag and end-to-end latency, read from fake /metrics texts as the services expose them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.metrics import ServiceMetrics
from services.console.app import create_app
from services.console.flows import LAST_MESSAGE, FlowRow, Latency, flows, lags, latencies
from services.console.sources import Sample, parse_exposition
from tests.console.test_console import AUTH, EVENT, NOW, FakeDlq, console_of

# Two replicas of the Missions Locales' adapter and the Regions' one, as their /metrics read.
MILO_A = """\
# TYPE passerelle_consumer_lag_messages gauge
passerelle_consumer_lag_messages{partition="0",service="milo_adapter",topic="in.imilo"} 4.0
passerelle_consumer_lag_messages{partition="1",service="milo_adapter",topic="in.imilo"} 3.0
passerelle_consumer_lag_messages{partition="0",service="milo_adapter",topic="deliver.imilo"} 0.0
"""
# The second replica took partition 1 at a rebalance; the first still says what it last saw there.
MILO_B = """\
# TYPE passerelle_consumer_lag_messages gauge
passerelle_consumer_lag_messages{partition="1",service="milo_adapter",topic="in.imilo"} 5.0
passerelle_consumer_lag_messages{partition="2",service="milo_adapter",topic="in.imilo"} 1.0
"""
REGION = """\
# TYPE passerelle_consumer_lag_messages gauge
passerelle_consumer_lag_messages{partition="0",service="region_adapter",topic="deliver.region-24"} 2.0
passerelle_consumer_lag_messages{partition="3",service="region_adapter",topic="deliver.region-24"} 6.0
passerelle_consumer_lag_messages{partition="0",service="router",topic="canon.formation.Positionnement"} 50.0
"""


def samples(*texts: str) -> list[Sample]:
    return [s for text in texts for s in parse_exposition(text)]


def delivered(*seconds: float, partner: str = "region-24", event: str = EVENT) -> list[Sample]:
    """What an outbound adapter's histogram says after delivering with these end-to-end delays."""
    metrics = ServiceMetrics("region_adapter")
    for value in seconds:
        metrics.end_to_end.labels(partner, event).observe(value)
    return parse_exposition(generate_latest(metrics.registry).decode())


def row(rows: tuple[FlowRow, ...], partner: str, direction: str, event: str = EVENT) -> FlowRow:
    [found] = [r for r in rows if (r.partner, r.direction, r.event) == (partner, direction, event)]
    return found


def test_lag_is_summed_over_partitions_the_largest_replica_reading_kept() -> None:
    # Partition 1: 5 (the replica that holds it now) not 3 + 5; the router's canon lag belongs to no partner.
    assert lags(samples(MILO_A, MILO_B, REGION)) == {
        "in.imilo": 4 + 5 + 1,
        "deliver.imilo": 0,
        "deliver.region-24": 8,
        "canon.formation.Positionnement": 50,
    }


def test_two_groups_reading_one_topic_show_the_one_behind() -> None:
    other = 'passerelle_consumer_lag_messages{partition="0",service="attente",topic="in.imilo"} 30.0\n'
    assert lags(samples(MILO_A, other))["in.imilo"] == 30


def test_lag_goes_to_the_partner_through_its_topic(profiles: Profiles) -> None:
    figures = flows(profiles, samples(MILO_A, MILO_B, REGION), NOW)
    assert row(figures.rows, "imilo", "in").lag == 10  # what imilo publishes waits on in.imilo
    assert row(figures.rows, "region-24", "out").lag == 8  # what region-24 receives waits on deliver.region-24
    assert {r.lag for r in figures.rows if (r.partner, r.direction) == ("imilo", "out")} == {0}
    assert {r.lag for r in figures.rows if r.partner == "region-53"} == {None}  # nothing exported: unknown, not 0


def test_latency_quantiles_are_interpolated_in_the_buckets() -> None:
    # Ten deliveries, all between the 0.25 s and 0.5 s bounds: spread evenly in that bucket, as Prometheus does.
    [(key, latency)] = latencies(delivered(*[0.3] * 10)).items()
    assert key == ("region-24", EVENT)
    assert latency.count == 10
    assert latency.median_s == pytest.approx(0.375) and latency.p95_s == pytest.approx(0.4875)
    assert not latency.median_past and not latency.p95_past


def test_latency_sums_the_replicas_buckets() -> None:
    # 19 fast ones on one replica, one slow on the other: the p95 stays with the fast, the 100th percentile not.
    both = delivered(*[0.004] * 19) + delivered(7.0)
    latency = latencies(both)[("region-24", EVENT)]
    assert latency.count == 20
    assert 0.0025 < latency.median_s <= 0.005 and 0.0025 < latency.p95_s <= 0.005
    slow = latencies(delivered(*[0.004] * 18) + delivered(7.0, 7.0))[("region-24", EVENT)]
    assert slow.p95_s == pytest.approx(7.5)  # rank 19 of 20, the first of two in (5 s, 10 s]: halfway into it


def test_a_delay_past_the_last_bucket_is_only_a_lower_bound() -> None:
    latency = latencies(delivered(0.01, 60.0, 60.0, 60.0))[("region-24", EVENT)]
    assert latency.median_s == 30.0 and latency.median_past
    assert latency.p95_s == 30.0 and latency.p95_past


def test_no_delivery_no_latency(profiles: Profiles) -> None:
    assert latencies(delivered()) == {}
    figures = flows(profiles, delivered(0.3), NOW)
    assert row(figures.rows, "region-24", "out").latency == Latency(1, 0.375, 0.4875)
    assert row(figures.rows, "imilo", "in").latency is None  # measured at delivery, on the recipients' rows


def silent_imilo(lag: float) -> list[Sample]:
    metrics = ServiceMetrics("milo_adapter")
    metrics.last_message.labels("imilo").set(NOW - 100_000)  # 24 h allowed
    metrics.consumer_lag.labels("milo_adapter", "in.imilo", "0").set(lag)
    return parse_exposition(generate_latest(metrics.registry).decode())


def test_a_silent_partner_whose_messages_wait_is_stuck_on_passerelles_side(profiles: Profiles) -> None:
    stuck = next(p for p in flows(profiles, silent_imilo(12), NOW).partners if p.partner == "imilo")
    assert stuck.silent_for_s is not None and stuck.waiting == 12 and stuck.stuck
    quiet = next(p for p in flows(profiles, silent_imilo(0), NOW).partners if p.partner == "imilo")
    assert quiet.silent_for_s is not None and not quiet.stuck  # the partner sends nothing: nothing waits
    busy = [Sample(s.name, s.labels, NOW - 60) if s.name == LAST_MESSAGE else s for s in silent_imilo(12)]
    heard = next(p for p in flows(profiles, busy, NOW).partners if p.partner == "imilo")
    assert heard.silent_for_s is None and not heard.stuck  # a backlog being read is no alarm


def test_the_page_shows_lag_and_latency(profiles: Profiles, catalogue: Catalogue) -> None:
    scraped = (
        samples(MILO_A, MILO_B, REGION)
        + delivered(*[0.3] * 10)
        + delivered(60.0, partner="imilo", event="formation.OffreSession")
    )
    page = TestClient(create_app(console_of(profiles, catalogue, FakeDlq([]), scraped))).get("/", headers=AUTH).text
    assert "<th>en attente (lag)</th><th>latence médiane</th><th>latence p95</th>" in page
    region = page[page.index("<td>region-24</td><td>reçoit</td><td>formation.Positionnement</td>") :]
    assert region[: region.index("</tr>")].endswith("<td>8</td><td>375 ms</td><td>488 ms</td>")
    imilo = page[page.index("<td>imilo</td><td>publie</td><td>formation.Positionnement</td>") :]
    assert imilo[: imilo.index("</tr>")].endswith("<td>10</td><td>—</td><td>—</td>")
    offers = page[page.index("<td>imilo</td><td>reçoit</td><td>formation.OffreSession</td>") :]
    assert offers[: offers.index("</tr>")].endswith("<td>0</td><td>&gt; 30,0 s</td><td>&gt; 30,0 s</td>")


def test_the_page_says_a_stuck_flow_in_red(profiles: Profiles, catalogue: Catalogue) -> None:
    page = TestClient(create_app(console_of(profiles, catalogue, FakeDlq([]), silent_imilo(12))))
    text = page.get("/", headers=AUTH).text
    assert "silencieux depuis 1 j 3 h, 12 message(s) en attente non lus" in text
    assert '<tr class="silencieux"><td><a href="/partenaires/imilo">imilo</a></td>' in text
    assert '<tr class="silencieux"><td>imilo</td><td>publie</td>' in text
