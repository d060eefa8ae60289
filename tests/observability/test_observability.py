"""Metrics scraped by a real Prometheus, health endpoints, trace context, and logs without personal data."""

from __future__ import annotations

import io
import uuid

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from passerelle.core.envelope import trace_id
from passerelle.logging import configure
from passerelle.simulation import native as simulated
from passerelle.stack.local import Stack
from tests.e2e.traffic import positionnement, pseudonym_of
from tests.flows import caused_by, header, native_headers, send, wait_for
from tests.observability.prometheus import prometheus, query_until

pytestmark = pytest.mark.broker


async def test_health_is_ready_on_every_service(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        for name, service in stack.running.items():
            response = await client.get(service.metrics_url.replace("/metrics", "/health"))
            assert response.status_code == 200, name


# Series this test's own traffic adds to; the stack is shared, so each is compared with its value before the sends.
DELIVERED = (
    'sum(passerelle_messages_total{service="region_adapter",direction="out",partner="region-24",'
    'event="formation.Positionnement",outcome="ok"})'
)
REJECTED = 'sum(passerelle_dlq_messages_total{service="milo_adapter",partner="imilo",reason="json"})'
LATENCY = 'sum(passerelle_end_to_end_latency_seconds_count{partner="region-24",event="formation.Positionnement"})'


async def _total(url: str, promql: str) -> float:
    # A series nobody has incremented yet is absent, not zero.
    [sample] = await query_until(url, f"({promql}) or vector(0)", lambda r: len(r) == 1)
    return float(sample["value"][1])


async def _grew(url: str, promql: str, before: float, by: int) -> float:
    """The increase of ``promql`` since ``before``, once it is at least ``by``."""
    result = await query_until(url, promql, lambda r: r and float(r[0]["value"][1]) - before >= by)
    return float(result[0]["value"][1]) - before


async def test_a_real_prometheus_scrapes_the_services(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = uuid.uuid4().hex[:8]
    # By the label each service gives its own series (milo_adapter), which the scrape job's label must match.
    targets = {
        s.runtime.ctx.service: s.metrics_url.removeprefix("http://").removesuffix("/metrics")
        for s in stack.running.values()
    }
    targets["registry"] = (stack.registry_url or "").removeprefix("http://")
    with prometheus(targets) as url:
        # Every target scraped once before the sends, so the totals below are what other tests left.
        up = await query_until(url, 'up{job="passerelle"}', lambda r: len(r) == len(targets))
        assert all(s["value"][1] == "1" for s in up)
        before = {q: await _total(url, q) for q in (DELIVERED, REJECTED, LATENCY)}
        for i in range(3):
            await send(producer, "in.imilo", positionnement(f"{n}-{i}"), native_headers(ce_id=f"prom-{n}-{i}"))
        await send(producer, "in.imilo", b"{casse", native_headers(ce_id=f"prom-{n}-bad"))
        await wait_for(
            stack.access,
            "out.region-24",
            lambda r: (header(r, "correlation_id") or "").startswith(f"prom-{n}-"),
            count=3,
        )
        ready = await query_until(url, "passerelle_service_ready", lambda r: len(r) == len(targets))
        assert {s["metric"]["service"] for s in ready} == set(targets)
        assert all(s["value"][1] == "1" for s in ready)
        # The services' own `service` label kept (honor_labels), never doubled as exported_service.
        assert await query_until(url, '{exported_service!=""}', lambda _: True) == []
        assert {s["metric"]["service"] for s in await query_until(url, "up", lambda _: True)} == set(targets)
        # Process and garbage-collector metrics of every service; the hops say they reach the broker.
        memory = await query_until(url, "process_resident_memory_bytes", lambda r: len(r) == len(targets))
        assert all(float(s["value"][1]) > 0 for s in memory)
        assert await query_until(url, "python_gc_collections_total", lambda r: len(r) >= len(targets))
        reachable = await query_until(url, "passerelle_broker_reachable", lambda r: len(r) == len(stack.running))
        assert all(s["value"][1] == "1" for s in reachable)
        assert await _grew(url, DELIVERED, before[DELIVERED], 3) >= 3
        assert await _grew(url, REJECTED, before[REJECTED], 1) >= 1
        assert await _grew(url, LATENCY, before[LATENCY], 3) >= 3
        # The shipped rules are loaded and evaluated without error (their meaning is promtool's test).
        async with httpx.AsyncClient() as client:
            groups = (await client.get(f"{url}/api/v1/rules")).json()["data"]["groups"]
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        assert {"passerelle:end_to_end_slow_ratio:rate5m", "PasserelleBrokerUnreachable"} <= set(rules)
        assert all(rule["health"] != "err" for rule in rules.values()), rules


async def test_trace_context_follows_an_event_across_services(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = uuid.uuid4().hex[:8]
    parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    await send(producer, "in.imilo", positionnement(n), native_headers(ce_id=f"trace-{n}", traceparent=parent))
    [canon] = await wait_for(stack.access, "canon.formation.Positionnement", caused_by(f"trace-{n}"))
    [delivered] = await wait_for(stack.access, "out.region-24", caused_by(f"trace-{n}"))
    [audit] = await wait_for(stack.access, "deliver.region-24", caused_by(f"trace-{n}"))
    for record in (canon, delivered, audit):
        assert trace_id(header(record, "traceparent") or "") == trace_id(parent)


async def test_logs_never_hold_personal_data(stack: Stack, producer: AIOKafkaProducer) -> None:
    buffer = io.StringIO()
    configure("json", "DEBUG", stream=buffer)
    try:
        n = uuid.uuid4().hex[:8]
        nir = "2 84 05 37 261 084 46"
        await send(
            producer,
            "in.imilo",
            positionnement(n, commentaire="Léa Martin, lea.martin@exemple.fr"),
            native_headers(ce_id=f"log-{n}"),
        )
        await send(
            producer,
            "in.imilo",
            positionnement(f"{n}-nir", commentaire=f"NIR {nir}"),
            native_headers(ce_id=f"log-{n}-nir"),
        )
        status = simulated.region_json_message(
            "formation.StatutCandidature",
            {
                "id_positionnement": f"P-{n}",
                "pseudonyme": pseudonym_of(n),
                "id_session": "24:1",
                "code_structure": "37261S00",
                "statut": "PEUT_ETRE",
                "date_statut": "2026-03-02",
            },
        )
        await send(producer, "in.region-24", status, native_headers(ce_id=f"log-{n}-st"))
        await wait_for(stack.access, "out.region-24", caused_by(f"log-{n}"))
        await wait_for(stack.access, "dlq.milo_adapter", caused_by(f"log-{n}-nir"))
        await wait_for(stack.access, "dlq.region_adapter", caused_by(f"log-{n}-st"))
    finally:
        configure("console", "WARNING")
    lines = buffer.getvalue().splitlines()
    assert any(f"log-{n}" in line for line in lines)  # the logs did see these messages...
    events = [orjson.loads(line) for line in lines if line.startswith("{")]
    assert any(e.get("event") == "message.rejete" and e.get("code") == "nir" for e in events)
    text = buffer.getvalue()
    for personal in ("Martin", "Léa", "lea.martin@exemple.fr", "0612345678", "2005-01-02", nir, nir.replace(" ", "")):
        assert personal not in text  # ...and never what they carried
