"""The partner gateway over HTTP: ``POST /v1/partners/{partner}/messages`` publishes a native message or file.

202 with the event ids when the partner's adapter accepts the content, with the per-item errors too when it
accepts only part of it (the refused items then reach the DLQ and the feedback topic from the adapter, exactly
as on Kafka); 422 with those errors and nothing published when nothing can be accepted. ``/metrics``,
``/health`` and ``/live`` answer without a credential, like every service's: the ingress must not forward them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO, cast

import orjson
import structlog
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from passerelle.broker import topics
from passerelle.core.partners import PartnerProfile, Profiles
from services.adapter.inbound import InboundTranslator
from services.gateway.auth import Refused, TokenVerifier, publishing_as
from services.gateway.idempotency import Answer, AnswerStore, message_id, piece_id, record_key
from services.gateway.intake import (
    JSON,
    LHEO_EVENT,
    PIECE_BYTES,
    XML,
    Borrowed,
    Piece,
    Verdict,
    check_piece,
    expected_media,
    media_type,
    pieces,
    record_headers,
)
from services.gateway.limits import RateLimits
from services.gateway.metrics import ANONYMOUS, GatewayMetrics
from services.gateway.publish import Publisher

log = structlog.get_logger("passerelle.gateway")

SERVICE = "gateway"
MESSAGES_ROUTE = "/v1/partners/{partner}/messages"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_MAX = 255
_SPOOL_IN_MEMORY = 1024 * 1024  # larger bodies go to a temporary file while they are read


@dataclass
class Gateway:
    """Everything one gateway replica holds; the app's routes are its methods' callers."""

    profiles: Profiles
    verifier: TokenVerifier
    borrowed: Borrowed
    answers: AnswerStore
    publisher: Publisher
    limits: RateLimits
    max_body_bytes: int
    # A JSON document is published whole: it must fit in one record, where a CSV or LHEO file is cut in pieces.
    max_json_bytes: int = PIECE_BYTES
    piece_bytes: int = PIECE_BYTES
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def receive(self, request: Request, partner: str, event: str | None) -> JSONResponse:
        caller = self.verifier.partner(request.headers.get("authorization"))
        publishing_as(caller, partner)
        wait = self.limits.take(caller)
        if wait is not None:
            retry = RateLimits.retry_after(wait)
            raise Refused(
                429, "trop_de_requetes", f"trop de requêtes : réessayez dans {retry} s", {"Retry-After": retry}
            )
        profile = self.profiles[caller]
        media = self._media(profile, request.headers.get("content-type"), event)
        event = event or (LHEO_EVENT if media == XML else None)
        key = _idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))
        with tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY) as body:
            # The event and the kind of body are part of what a key stands for, beside the bytes.
            digest = hashlib.sha256(f"{event}\n{media}\n{await self._spool(request, body)}".encode()).hexdigest()
            if media == JSON and body.tell() > self.max_json_bytes:
                limit = self.max_json_bytes
                raise Refused(413, "trop_volumineux", f"document JSON de plus de {limit} octets : scindez-le")
            if key is None:
                return await self._answer(profile, event, media, body, message_id(caller, None))
            async with self._lock(caller, key):
                kept = self.answers.get(caller, key)
                if kept is not None:
                    return _replayed(kept, digest, key)
                answer = await self._answer(profile, event, media, body, message_id(caller, key))
                try:
                    await self.answers.put(caller, key, Answer(digest, answer.status_code, _body_of(answer)))
                except (KafkaError, OSError, TimeoutError) as exc:
                    # Published but not remembered: a retry under the same key publishes the same ids again.
                    raise _unavailable() from exc
                return answer

    def _media(self, profile: PartnerProfile, content_type: str | None, event: str | None) -> str:
        media = media_type(content_type)
        expected = expected_media(profile, event)
        if media is None or (expected is not None and media != expected):
            wanted = expected or "application/json, text/csv ou application/xml"
            raise Refused(415, "type_de_contenu", f"Content-Type attendu : {wanted}")
        return media

    async def _spool(self, request: Request, body: IO[bytes]) -> str:
        """Read the body to ``body`` as it arrives, bounded; its SHA-256."""
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise Refused(413, "trop_volumineux", f"corps de plus de {self.max_body_bytes} octets")
            digest.update(chunk)
            body.write(chunk)
        return digest.hexdigest()

    @contextlib.asynccontextmanager
    async def _lock(self, partner: str, key: str) -> AsyncIterator[None]:
        """One request per key at a time in this replica; other replicas are covered by the derived ids."""
        name = record_key(partner, key)
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(name) is lock:
                del self._locks[name]

    async def _answer(
        self, profile: PartnerProfile, event: str | None, media: str, body: IO[bytes], message: str
    ) -> JSONResponse:
        moment = datetime.now(UTC)
        translator = self.borrowed.translators[profile.family]
        verdict = Verdict()
        # The check reads the pieces in a thread: a large file's translation must not stall the event loop.
        await asyncio.to_thread(self._check, translator, profile.id, event, media, body, message, moment, verdict)
        self.metrics.items.labels(profile.id, "ok").inc(len(verdict.event_ids))
        self.metrics.items.labels(profile.id, "rejete").inc(verdict.rejected)
        status = "accepte" if not verdict.rejected else "partiel" if verdict.event_ids else "rejete"
        content = {
            "statut": status,
            "partenaire": profile.id,
            "evenement": event,
            "idMessage": message,
            "morceaux": verdict.pieces,
            "acceptes": len(verdict.event_ids),
            "rejetes": verdict.rejected,
            "idsEvenements": verdict.event_ids,
            "erreurs": verdict.errors,
            "erreursOmises": verdict.omitted,
        }
        if not verdict.event_ids:
            log.info("passerelle.message_refuse", partner=profile.id, id_message=message, rejetes=verdict.rejected)
            return JSONResponse(content, status_code=422)
        body.seek(0)
        published = self._pieces(profile.id, event, media, body, message, moment)
        try:
            await self.publisher.publish(topics.inbound(profile.id), list(published))
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("passerelle.publication_impossible", partner=profile.id, motif=type(exc).__name__)
            raise _unavailable() from exc
        log.info("passerelle.message_publie", partner=profile.id, id_message=message, morceaux=verdict.pieces)
        return JSONResponse(content, status_code=202)

    def _check(
        self,
        translator: InboundTranslator,
        partner: str,
        event: str | None,
        media: str,
        body: IO[bytes],
        message: str,
        moment: datetime,
        verdict: Verdict,
    ) -> None:
        body.seek(0)
        for value, headers in self._pieces(partner, event, media, body, message, moment):
            check_piece(translator, partner, value, headers, verdict)

    def _pieces(
        self, partner: str, event: str | None, media: str, body: IO[bytes], message: str, moment: datetime
    ) -> Iterator[Piece]:
        split = pieces(media, cast(BinaryIO, body), self.borrowed.split_lheo, self.piece_bytes)
        for number, (value, own) in enumerate(split, start=1):
            yield value, [*record_headers(partner, event, media, piece_id(message, number), message, moment), *own]


def _unavailable() -> Refused:
    return Refused(
        503, "indisponible", "publication impossible pour l'instant : réessayez (même clé)", {"Retry-After": "5"}
    )


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > _KEY_MAX or not value.isprintable():
        raise Refused(400, "cle_idempotence", f"en-tête {IDEMPOTENCY_HEADER} : 1 à {_KEY_MAX} caractères imprimables")
    return value


def _replayed(kept: Answer, digest: str, key: str) -> JSONResponse:
    if kept.digest != digest:
        raise Refused(
            422,
            "cle_idempotence_reutilisee",
            f"la clé d'idempotence {key} a déjà servi pour un autre contenu : envoyez ce contenu sous une autre clé",
        )
    return JSONResponse(kept.body, status_code=kept.status, headers={"Idempotent-Replayed": "true"})


def _body_of(response: JSONResponse) -> dict[str, Any]:
    decoded: dict[str, Any] = orjson.loads(bytes(response.body))
    return decoded


def create_app(gateway: Gateway) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.answers.start()
        await gateway.publisher.start()
        try:
            yield
        finally:
            await gateway.publisher.stop()
            await gateway.answers.stop()

    app = FastAPI(
        title="Passerelle — API des partenaires",
        description="Publication des messages natifs des partenaires sur in.<partenaire>, par HTTPS.",
        lifespan=lifespan,
    )
    metrics = gateway.metrics

    @app.post(MESSAGES_ROUTE, status_code=202)
    async def post_message(request: Request, partner: str, event: str | None = None) -> Response:
        started = time.monotonic()
        label = partner if partner in gateway.profiles else ANONYMOUS
        try:
            response: Response = await gateway.receive(request, partner, event)
        except Refused as refused:
            metrics.errors.labels(label, MESSAGES_ROUTE, refused.code).inc()
            content = {"statut": "refuse", "code": refused.code, "message": refused.message}
            response = JSONResponse(content, status_code=refused.status, headers=refused.headers)
        metrics.requests.labels(label, MESSAGES_ROUTE, str(response.status_code)).inc()
        metrics.latency.labels(label, MESSAGES_ROUTE).observe(time.monotonic() - started)
        return response

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    def health() -> JSONResponse:
        trouble = gateway.answers.trouble
        if trouble is not None:
            return JSONResponse({"statut": "indisponible", "raison": trouble}, status_code=503)
        return JSONResponse({"statut": "pret"})

    @app.get("/live")
    def live() -> JSONResponse:
        dead = gateway.answers.why_dead  # only a dead reader is mended by a restart, never a broker away
        if dead is not None:
            return JSONResponse({"statut": "a_redemarrer", "raison": dead}, status_code=503)
        return JSONResponse({"statut": "vivant"})

    return app
