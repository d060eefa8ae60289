"""The pull API: ``GET /v1/partners/{partner}/events`` and ``POST /v1/partners/{partner}/events/ack``.

For a partner that cannot expose a webhook: it reads its deliveries (``out.<partner>``) and feedback
(``feedback.<partner>``) from a cursor, waiting up to ``attente`` seconds when there is nothing yet, then
acknowledges the cursor of what it has processed. Without ``after``, a read starts at the acknowledged cursor,
so a client that crashed reads again whatever it had not acknowledged. A partner reads only its own events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse

from passerelle.core.partners import Profiles
from services.gateway.auth import Refused, TokenVerifier
from services.gateway.cursor import Cursor, CursorError
from services.gateway.events import MAX_LIMIT, MAX_WAIT_S, EventSource, partner_topics
from services.gateway.limits import RateLimits
from services.gateway.metrics import ANONYMOUS, GatewayMetrics

log = structlog.get_logger("passerelle.gateway")

EVENTS_ROUTE = "/v1/partners/{partner}/events"
ACK_ROUTE = "/v1/partners/{partner}/events/ack"
DEFAULT_LIMIT = 100
_ACK_MAX_BYTES = 16 * 1024
PartnerPath = Annotated[str, FastApiPath(description="Le partenaire : imilo ou region-<code INSEE>.")]


def reading_as(caller: str, partner: str) -> None:
    """A partner reads its own events only: a 403 otherwise."""
    if caller != partner:
        raise Refused(403, "lecture_interdite", f"{caller} ne peut pas lire les événements de {partner}")


def bounded(limit: int, wait_s: float) -> tuple[int, float]:
    """``limit`` within 1..MAX_LIMIT and ``attente`` within 0..MAX_WAIT_S: a long poll never holds a request longer."""
    if math.isnan(wait_s):  # ``attente=nan`` passes FastAPI and every comparison: the reader would never stop
        wait_s = 0.0
    return min(max(limit, 1), MAX_LIMIT), min(max(wait_s, 0.0), MAX_WAIT_S)


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"statut": "refuse", "code": code, "message": message}


def _unavailable() -> Refused:
    return Refused(503, "indisponible", "lecture impossible pour l'instant : réessayez", {"Retry-After": "5"})


@dataclass(frozen=True)
class Pull:
    """What the pull routes need from the gateway: who calls, how often, and where the events are."""

    events: EventSource
    verifier: TokenVerifier
    limits: RateLimits
    profiles: Profiles
    metrics: GatewayMetrics

    def caller(self, request: Request, partner: str) -> str:
        caller = self.verifier.partner(request.headers.get("authorization"))
        reading_as(caller, partner)
        self.limits.admit(caller)
        return caller

    async def page(self, request: Request, partner: str, after: str | None, limit: int, wait_s: float) -> Response:
        self.caller(request, partner)
        cursor = _decoded(after, partner) if after is not None else None
        limit, wait_s = bounded(limit, wait_s)
        try:
            page = await self.events.read(partner, cursor, limit, wait_s)
        except KafkaError as exc:
            log.warning("passerelle.lecture_impossible", partner=partner, motif=type(exc).__name__)
            raise _unavailable() from exc
        events = [event.as_json() for event in page.events]
        return JSONResponse(
            {"partenaire": partner, "nombre": len(events), "curseur": page.cursor, "evenements": events}
        )

    async def acknowledge(self, request: Request, partner: str) -> Response:
        self.caller(request, partner)
        body = await request.body()
        if len(body) > _ACK_MAX_BYTES:
            raise Refused(413, "trop_volumineux", f"acquittement de plus de {_ACK_MAX_BYTES} octets")
        try:
            text = orjson.loads(body).get("curseur")
        except (orjson.JSONDecodeError, AttributeError):
            text = None
        if not isinstance(text, str):
            raise Refused(400, "curseur_absent", 'corps attendu : {"curseur": "<curseur rendu par la lecture>"}')
        cursor = _decoded(text, partner)
        try:
            await self.events.acknowledge(partner, cursor)
        except KafkaError as exc:
            log.warning("passerelle.acquittement_impossible", partner=partner, motif=type(exc).__name__)
            raise _unavailable() from exc
        log.info("passerelle.lecture_acquittee", partner=partner)
        return JSONResponse({"statut": "acquitte", "partenaire": partner, "curseur": cursor.encode()})

    async def measured(self, route: str, partner: str, answer: Callable[[], Awaitable[Response]]) -> Response:
        started = time.monotonic()
        label = partner if partner in self.profiles else ANONYMOUS
        try:
            response = await answer()
        except Refused as refused:
            self.metrics.errors.labels(label, route, refused.code).inc()
            content = _refusal(refused.code, refused.message)
            response = JSONResponse(content, status_code=refused.status, headers=refused.headers)
        self.metrics.requests.labels(label, route, str(response.status_code)).inc()
        self.metrics.latency.labels(label, route).observe(time.monotonic() - started)
        return response


def _decoded(text: str, partner: str) -> Cursor:
    try:
        return Cursor.decode(text, partner_topics(partner))
    except CursorError as exc:
        raise Refused(400, "curseur_invalide", str(exc)) from exc


_REFUSAL_SCHEMA = {
    "type": "object",
    "properties": {"statut": {"const": "refuse"}, "code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["statut", "code", "message"],
}


def _answer(description: str, example: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _REFUSAL_SCHEMA}
    if example is not None:
        content = {"example": example}
    return {"description": description, "content": {"application/json": content}}


_EVENT_EXAMPLE = {
    "partenaire": "imilo",
    "nombre": 1,
    "curseur": "c1.eyJvdXQuaW1pbG8iOnsiMCI6NDJ9fQ",
    "evenements": [
        {
            "curseur": "c1.eyJvdXQuaW1pbG8iOnsiMCI6NDJ9fQ",
            "flux": "out",
            "id": "4b0b87c6-51fe-5231-896c-41030af666ec",
            "idCorrelation": "5f0c2a8e-3b1d-4c7e-9a62-0d4e8b1f7a35",
            "type": "formation.StatutCandidature",
            "horodatage": "2026-03-02T09:15:00Z",
            "typeContenu": "application/json",
            "encodage": "texte",
            "contenu": '{"typeEvenement": "formation.StatutCandidature", "statut": "ADMIS"}',
        }
    ],
}
_COMMON: dict[int | str, dict[str, Any]] = {
    400: _answer("Curseur illisible, ou qui désigne les événements d'un autre partenaire."),
    401: _answer("Jeton d'accès absent, expiré, mal signé, ou qui ne désigne aucun partenaire connu."),
    403: _answer("Le jeton est celui d'un autre partenaire : chacun ne lit que ses propres événements."),
    429: _answer("Trop de requêtes de ce partenaire : réessayez après Retry-After secondes."),
    503: _answer("Le broker ne répond pas : réessayez."),
}


def pull_router(pull: Pull) -> APIRouter:
    router = APIRouter(tags=["lecture"])

    @router.get(
        EVENTS_ROUTE,
        summary="Lire ses livraisons et ses retours",
        description=(
            "Les messages de out.<partenaire> (livraisons) et feedback.<partenaire> (erreurs lisibles), dans l'ordre "
            "de chaque clé, à partir du curseur donné, sinon du dernier curseur acquitté. S'il n'y a rien, la "
            f"requête attend jusqu'à « attente » secondes (au plus {MAX_WAIT_S:.0f}) qu'un message arrive."
        ),
        responses={
            200: {
                "description": "Une page d'événements et le curseur qui la suit.",
                "content": {"application/json": {"example": _EVENT_EXAMPLE}},
            },
            **_COMMON,
        },
    )
    async def read_events(
        request: Request,
        partner: PartnerPath,
        after: Annotated[str | None, Query(description="Le curseur d'où lire (rendu par une lecture).")] = None,
        limit: Annotated[int, Query(description=f"Événements au plus (1 à {MAX_LIMIT}).")] = DEFAULT_LIMIT,
        attente: Annotated[float, Query(description=f"Secondes d'attente s'il n'y a rien (0 à {MAX_WAIT_S:.0f}).")] = 0,
    ) -> Response:
        return await pull.measured(EVENTS_ROUTE, partner, lambda: pull.page(request, partner, after, limit, attente))

    @router.post(
        ACK_ROUTE,
        summary="Acquitter ce qui a été lu",
        description=(
            "Enregistre le curseur : une lecture sans « after » reprendra juste après, même après un redémarrage "
            "du client ou de la passerelle. Acquittez le curseur du dernier événement traité, pas avant."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"curseur": {"type": "string"}},
                            "required": ["curseur"],
                        },
                        "example": {"curseur": "c1.eyJvdXQuaW1pbG8iOnsiMCI6NDJ9fQ"},
                    }
                },
            }
        },
        responses={200: {"description": "Curseur acquitté."}, 413: _answer("Corps trop volumineux."), **_COMMON},
    )
    async def acknowledge(request: Request, partner: PartnerPath) -> Response:
        return await pull.measured(ACK_ROUTE, partner, lambda: pull.acknowledge(request, partner))

    return router
