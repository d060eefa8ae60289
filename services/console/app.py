"""The operator console: read-only pages over the services' metrics, the DLQ topics and the partner profiles.

Every page asks for the operator's credential (HTTP Basic); ``/metrics`` and ``/health`` are open, like every
service's: they belong on the internal network only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.operator import OperatorCredential, challenge, parse_basic
from passerelle.settings import Settings
from services.console import pages
from services.console.flows import flows
from services.console.settings import ConsoleSettings
from services.console.sources import DlqSource, HttpMetrics, KafkaDlq, MetricsSource

log = structlog.get_logger("passerelle.console")

REALM = "passerelle-console"
ANONYMOUS = "anonyme"
REFUSED = "Console réservée à l'opérateur : authentification HTTP Basic requise."


@dataclass(frozen=True)
class Console:
    """What the console reads: the profiles and contracts, the services' metrics, the DLQ topics."""

    profiles: Profiles
    catalogue: Catalogue
    operator: OperatorCredential | None
    metrics: MetricsSource
    dlq: DlqSource
    services: Sequence[str] = topics.SERVICES
    clock: Callable[[], float] = field(default=time.time)


def build(settings: Settings, console: ConsoleSettings) -> Console:
    """The console as deployed: metrics over HTTP, the DLQ topics with the settings' Kafka identity."""
    catalogue = Catalogue.load(settings.schemas_dir)
    profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
    metrics = HttpMetrics(lambda: console.metrics)
    return Console(profiles, catalogue, console.operator(), metrics, KafkaDlq(KafkaAccess.of(settings)))


def operator_user(request: Request) -> str:
    """The operator's user name, or a 401 that makes a browser ask for the credential."""
    operator: OperatorCredential | None = request.app.state.operator
    authorization = request.headers.get("authorization")
    if operator is None or not operator.accepts(authorization):
        client = request.client.host if request.client else None
        log.warning("console.acces_refuse", chemin=request.url.path, client=client, configure=operator is not None)
        raise HTTPException(401, REFUSED, challenge(REALM))
    given = parse_basic(authorization)
    return given[0] if given else ANONYMOUS


Operator = Annotated[str, Depends(operator_user)]


def create_app(console: Console) -> FastAPI:
    app = FastAPI(title="Passerelle — console", docs_url=None, redoc_url=None, openapi_url=None)
    registry = CollectorRegistry()  # the console's own, so two apps in one process never share a count
    raw_views = Counter(
        "passerelle_console_raw_views",
        "Messages d'origine de la DLQ montrés sans masquage, à la demande d'un opérateur.",
        registry=registry,
    )
    app.state.operator = console.operator

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"statut": "pret"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    async def flows_view(_: Operator) -> str:
        scrape = await console.metrics.scrape()
        return pages.flows_page(flows(console.profiles, scrape.samples, console.clock()), scrape.unreachable)

    @app.get("/dlq", response_class=HTMLResponse)
    async def dlq_view(_: Operator, service: str = "", partenaire: str = "", code: str = "") -> str:
        wanted = [service] if service in console.services else list(console.services)
        entries = [
            e
            for e in await console.dlq.entries(wanted)
            if (not partenaire or pages.sender(e) == partenaire) and (not code or e.error("code") == code)
        ]
        return pages.dlq_page(entries, console.services, service, partenaire, code)

    @app.get("/dlq/{service}/{partition}/{offset}", response_class=HTMLResponse)
    async def record_view(
        who: Operator, service: str, partition: int, offset: int, brut: Annotated[int, Query()] = 0
    ) -> HTMLResponse:
        if service not in console.services:
            return HTMLResponse(pages.not_found_page(f"Service inconnu : {service}"), 404)
        found = [e for e in await console.dlq.entries([service]) if (e.partition, e.offset) == (partition, offset)]
        if not found:
            return HTMLResponse(
                pages.not_found_page(f"Aucun message {partition}:{offset} dans {topics.dlq(service)}"), 404
            )
        if brut:  # personal data shown on request: who saw which record is kept
            raw_views.inc()
            log.warning("console.message_brut_consulte", operateur=who, dlq=found[0].topic, ref=found[0].ref)
        return HTMLResponse(pages.record_page(found[0], raw=bool(brut)))

    @app.get("/partenaires", response_class=HTMLResponse)
    async def partners_view(_: Operator) -> str:
        return pages.partners_page(console.profiles)

    @app.get("/partenaires/{partner}", response_class=HTMLResponse)
    async def partner_view(_: Operator, partner: str) -> HTMLResponse:
        profile = console.profiles.get(partner)
        if profile is None:
            return HTMLResponse(pages.not_found_page(f"Partenaire inconnu : {partner}"), 404)
        return HTMLResponse(pages.partner_page(console.catalogue, profile))

    return app
