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
from typing import IO, Annotated, Any, BinaryIO, Literal, cast

import orjson
import structlog
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from passerelle.broker import topics
from passerelle.core.partners import PartnerProfile, Profiles
from services.adapter.inbound import InboundTranslator
from services.gateway.auth import Refused, TokenVerifier, publishing_as
from services.gateway.delivery import WebhookDeliveries
from services.gateway.events import EventSource
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
from services.gateway.pull import Pull, pull_router

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
    # The outbound half: the pull API's reader, and the webhook deliveries (None: no partner names a webhook).
    events: EventSource | None = None
    webhooks: WebhookDeliveries | None = None

    async def receive(self, request: Request, partner: str, event: str | None) -> JSONResponse:
        caller = self.verifier.partner(request.headers.get("authorization"))
        publishing_as(caller, partner)
        self.limits.admit(caller)
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
        if lock.locked():  # the same key still being answered: a 409, as the Idempotency-Key draft asks
            raise Refused(
                409,
                "cle_idempotence_en_cours",
                f"une requête sous la clé d'idempotence {key} est en cours : réessayez dans un instant",
                {"Retry-After": "1"},
            )
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
        try:
            await asyncio.to_thread(self._check, translator, profile.id, event, media, body, message, moment, verdict)
        except SyntaxError as exc:  # an XML file the splitter cannot read: none of it is published
            raise Refused(422, "illisible", f"XML illisible, ligne {exc.lineno} : {exc.msg}") from exc
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
        split = pieces(media, cast(BinaryIO, body), self.piece_bytes)
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


# ---------------------------------------------------------------- the route's OpenAPI description


class ItemError(BaseModel):
    """Un élément refusé, nommé dans les champs natifs de l'expéditeur, tel que le topic feedback le porte."""

    model_config = ConfigDict(extra="allow")
    code: str = Field(description="Code stable de l'erreur (date, obligatoire, code_inconnu…).")
    chemin: str = Field(description="Le champ natif en cause (statut, dossier.idDossier, …/periode/debut).")
    message: str = Field(description="L'explication, en français.")
    regle: str | None = Field(None, description="La règle enfreinte.")
    attendu: str | None = Field(None, description="Ce qui était attendu.")
    recu: str | None = Field(None, description="Ce qui a été reçu, masqué pour un champ personnel.")
    position: str | None = Field(None, description="La ligne CSV, l'élément JSON ou la session LHEO.")
    contrat: str | None = Field(None, description="Le contrat et sa version (formation.StatutCandidature v1).")


class Reception(BaseModel):
    """Ce que l'adaptateur du partenaire fait du contenu : les événements qu'il publiera, les éléments refusés."""

    statut: Literal["accepte", "partiel", "rejete"] = Field(
        description="accepte : tout passe ; partiel : une partie passe ; rejete : rien ne passe, rien n'est publié."
    )
    partenaire: str = Field(description="Le partenaire au nom duquel le contenu est publié sur in.<partenaire>.")
    evenement: str | None = Field(None, description="L'événement, quand il ne se lit pas dans le corps (JSON).")
    id_message: str = Field(alias="idMessage", description="Le correlation_id de tout ce que le message cause.")
    morceaux: int = Field(ge=0, description="Morceaux publiés (un fichier CSV ou LHEO est coupé comme par ingest).")
    acceptes: int = Field(ge=0, description="Éléments acceptés.")
    rejetes: int = Field(ge=0, description="Éléments refusés (DLQ et feedback.<partenaire>, comme sur Kafka).")
    ids_evenements: list[str] = Field(alias="idsEvenements", description="Le ce_id de chaque événement à venir.")
    erreurs: list[ItemError] = Field(description="Chaque élément refusé, comme sur feedback.<partenaire>.")
    erreurs_omises: int = Field(alias="erreursOmises", ge=0, description="Erreurs coupées pour tenir la taille.")


class Refusal(BaseModel):
    """Une requête refusée avant toute publication : un code stable et son explication en français."""

    statut: Literal["refuse"]
    code: str = Field(description="Code stable du refus (jeton_expire, origine_usurpee, type_de_contenu…).")
    message: str = Field(description="L'explication, en français.")


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"statut": "refuse", "code": code, "message": message}


_ACCEPTED = {
    "statut": "accepte",
    "partenaire": "imilo",
    "evenement": None,
    "idMessage": "5f0c2a8e-3b1d-4c7e-9a62-0d4e8b1f7a35",
    "morceaux": 1,
    "acceptes": 1,
    "rejetes": 0,
    "idsEvenements": ["4db079e9-5936-5336-8dc3-72aefc0dd3f7"],
    "erreurs": [],
    "erreursOmises": 0,
}
_ROW_ERROR = {
    "code": "code_inconnu",
    "chemin": "statut",
    "regle": "code_inconnu",
    "message": "valeur inconnue, attendue parmi : RECUE, INFORMATION_COLLECTIVE, ADMIS, REFUSE, LISTE_ATTENTE, …",
    "attendu": "RECUE, INFORMATION_COLLECTIVE, ADMIS, REFUSE, LISTE_ATTENTE, ANNULEE, INCONNU",
    "recu": "PEUT-ETRE",
    "position": "ligne 3",
    "contrat": "formation.StatutCandidature v1",
}
_PARTIAL = {
    **_ACCEPTED,
    "statut": "partiel",
    "partenaire": "region-53",
    "evenement": "formation.StatutCandidature",
    "acceptes": 2,
    "rejetes": 1,
    "idsEvenements": ["4b0b87c6-51fe-5231-896c-41030af666ec", "95f171c1-5365-5aa7-b34a-ceb9b8426a17"],
    "erreurs": [_ROW_ERROR],
}
_RETRY_AFTER = {"Retry-After": {"description": "Secondes à attendre avant de réessayer.", "schema": {"type": "string"}}}
_AUTHENTICATE = {"WWW-Authenticate": {"description": 'Bearer realm="passerelle"', "schema": {"type": "string"}}}


def _answer(description: str, examples: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    named = {name: {"value": value} for name, value in examples.items()}
    return {"description": description, "content": {"application/json": {"examples": named}}, "headers": headers or {}}


MESSAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        **_answer(
            "Contenu accepté, en tout ou en partie, et publié sur in.<partenaire> : les identifiants des événements "
            "et, pour un fichier en partie valide, l'erreur de chaque élément refusé. Une clé d'idempotence déjà "
            "servie pour ce même contenu redonne la première réponse, avec « Idempotent-Replayed: true ».",
            {"accepte": _ACCEPTED, "partiel": _PARTIAL},
        ),
        "model": Reception,
    },
    400: {
        **_answer(
            "En-tête Idempotency-Key invalide (1 à 255 caractères imprimables).",
            {"cle_idempotence": _refusal("cle_idempotence", f"en-tête {IDEMPOTENCY_HEADER} : 1 à 255 caractères")},
        ),
        "model": Refusal,
    },
    401: {
        **_answer(
            "Jeton d'accès absent, expiré, émis pour un autre destinataire ou par un autre émetteur, mal signé, ou "
            "qui ne désigne aucun partenaire connu.",
            {"jeton_expire": _refusal("jeton_expire", "jeton d'accès expiré : demandez-en un nouveau")},
            _AUTHENTICATE,
        ),
        "model": Refusal,
    },
    403: {
        **_answer(
            "Le jeton est celui d'un autre partenaire que celui du chemin : chacun ne publie qu'en son nom.",
            {"origine_usurpee": _refusal("origine_usurpee", "region-24 ne peut pas publier au nom de region-53")},
        ),
        "model": Refusal,
    },
    409: {
        **_answer(
            "Une requête sous la même clé d'idempotence est encore en cours : réessayez après Retry-After secondes, "
            "la même clé redonnera sa réponse.",
            {
                "cle_idempotence_en_cours": _refusal(
                    "cle_idempotence_en_cours",
                    "une requête sous la clé d'idempotence statuts-2026-03-02 est en cours : réessayez dans un instant",
                )
            },
            _RETRY_AFTER,
        ),
        "model": Refusal,
    },
    413: {
        **_answer(
            "Corps trop volumineux (PASSERELLE_GATEWAY_MAX_BODY_BYTES), ou document JSON plus grand qu'un "
            "enregistrement : scindez-le.",
            {"trop_volumineux": _refusal("trop_volumineux", "corps de plus de 104857600 octets")},
        ),
        "model": Refusal,
    },
    415: {
        **_answer(
            "Content-Type qui n'est pas celui du profil du partenaire pour cet événement.",
            {"type_de_contenu": _refusal("type_de_contenu", "Content-Type attendu : text/csv")},
        ),
        "model": Refusal,
    },
    422: {
        **_answer(
            "Rien dans le contenu ne peut être accepté : rien n'est publié, chaque erreur est donnée comme sur "
            "feedback.<partenaire> (chemins natifs, numéros de ligne CSV). Ou bien la clé d'idempotence a déjà servi "
            "pour un autre contenu.",
            {
                "rejete": {**_PARTIAL, "statut": "rejete", "acceptes": 0, "idsEvenements": [], "morceaux": 1},
                "cle_idempotence_reutilisee": _refusal(
                    "cle_idempotence_reutilisee",
                    "la clé d'idempotence statuts-2026-03-02 a déjà servi pour un autre contenu : envoyez ce contenu "
                    "sous une autre clé",
                ),
            },
        ),
        "model": Reception | Refusal,
    },
    429: {
        **_answer(
            "Trop de requêtes de ce partenaire : réessayez après Retry-After secondes.",
            {"trop_de_requetes": _refusal("trop_de_requetes", "trop de requêtes : réessayez dans 2 s")},
            _RETRY_AFTER,
        ),
        "model": Refusal,
    },
    503: {
        **_answer(
            "Le broker n'a pas accusé réception : réessayez avec la même clé d'idempotence.",
            {"indisponible": _refusal("indisponible", "publication impossible pour l'instant : réessayez (même clé)")},
            _RETRY_AFTER,
        ),
        "model": Refusal,
    },
}

_TEXT = {"type": "string", "format": "binary"}
MESSAGE_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "Le message ou le fichier dans le dialecte du partenaire, avec le Content-Type de son profil : JSON "
            "I-MILO ou JSON régional (application/json), CSV régional (text/csv, ?event= requis), flux LHEO "
            "(application/xml, toujours formation.OffreSession). Un gros fichier est lu au fil de l'eau et publié en "
            "morceaux, comme par « passerelle ingest »."
        ),
        "content": {
            JSON: {
                "schema": {"type": ["object", "array"]},
                "example": {
                    "typeEvenement": "formation.Positionnement",
                    "idPositionnement": "P-1",
                    "dossier": {"idDossier": "D-1", "nomNaissance": "Martin"},
                    "structureRattachement": {"codeStructure": "69123S00"},
                    "session": {"idSession": "84:9"},
                    "datePositionnement": "2026-02-02",
                    "dispositif": "PACEA",
                },
            },
            "text/csv": {
                "schema": _TEXT,
                "example": "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut\r\n"
                "P-1;174ffc0fdd647821cb23bc8200b6d91af1d4e279f66b1bdcea209d417ec427e4;53:1;35238S00;ADMIS;02/03/2026\r\n",
            },
            XML: {"schema": _TEXT},
        },
    },
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Une clé par message, au choix du partenaire : le même contenu sous la même clé n'est publié qu'une "
                "fois (gardée 7 jours, connue de chaque réplique)."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": _KEY_MAX},
        }
    ],
}
# Declared for the document only: the gateway reads and checks the bearer token itself, with the French refusals.
_BEARER = HTTPBearer(
    scheme_name="jetonOAuth2",
    bearerFormat="JWT",
    description="Jeton d'accès OAuth2 (client credentials) de l'émetteur configuré ; son client_id est le partenaire.",
    auto_error=False,
)


def create_app(gateway: Gateway) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.answers.start()
        await gateway.publisher.start()
        outbound = [part for part in (gateway.events, gateway.webhooks) if part is not None]
        for part in outbound:
            await part.start()
        try:
            yield
        finally:
            for part in reversed(outbound):
                await part.stop()
            await gateway.publisher.stop()
            await gateway.answers.stop()

    app = FastAPI(
        title="Passerelle — API des partenaires",
        description="Publication des messages natifs des partenaires sur in.<partenaire>, par HTTPS.",
        lifespan=lifespan,
    )
    metrics = gateway.metrics

    @app.post(
        MESSAGES_ROUTE,
        status_code=202,
        summary="Publier un message ou un fichier natif",
        description=(
            "Vérifie le contenu avec l'adaptateur du partenaire, puis le publie sur in.<partenaire> en son nom. "
            "event : l'événement, requis pour un CSV, lu dans le corps d'un JSON, formation.OffreSession pour LHEO."
        ),
        responses=MESSAGE_RESPONSES,
        openapi_extra=MESSAGE_REQUEST,
        dependencies=[Depends(_BEARER)],
        tags=["publication"],
    )
    async def post_message(
        request: Request,
        partner: Annotated[str, FastApiPath(description="Le partenaire : imilo ou region-<code INSEE>.")],
        event: Annotated[str | None, Query(description="L'événement (formation.StatutCandidature…).")] = None,
    ) -> Response:
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

    if gateway.events is not None:
        pulled = Pull(gateway.events, gateway.verifier, gateway.limits, gateway.profiles, metrics)
        app.include_router(pull_router(pulled))

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", include_in_schema=False)
    def health() -> JSONResponse:
        trouble = gateway.answers.trouble
        if trouble is not None:
            return JSONResponse({"statut": "indisponible", "raison": trouble}, status_code=503)
        return JSONResponse({"statut": "pret"})

    @app.get("/live", include_in_schema=False)
    def live() -> JSONResponse:
        dead = gateway.answers.why_dead  # only a dead reader is mended by a restart, never a broker away
        dead = dead or (gateway.webhooks.why_dead if gateway.webhooks is not None else None)
        if dead is not None:
            return JSONResponse({"statut": "a_redemarrer", "raison": dead}, status_code=503)
        return JSONResponse({"statut": "vivant"})

    return app
