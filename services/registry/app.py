"""The contract registry: the Confluent Schema Registry REST subset clients use, and ``POST /validate``.

Whoever reaches it may read, look up, check compatibility and validate; only the operator (HTTP Basic) may change
it. ``/metrics`` and ``/health`` are open, like every service's: they belong on the internal network only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, TypeVar

import structlog
from fastapi import Body, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from passerelle.broker.topics import SCHEMAS_TOPIC
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.compat import Level
from passerelle.core.contracts.errors import ContractError, ValidationFailed
from passerelle.core.contracts.typed import TypedContracts
from passerelle.metrics import ServiceMetrics
from passerelle.runtime.registry import canonical_subject
from passerelle.settings import Settings
from services.registry.asyncapi_page import AsyncApiPage, catalogue_contracts, committed_asyncapi
from services.registry.auth import CHALLENGE, OperatorCredential
from services.registry.journal import Decision, Journal, JournalUnavailable, KafkaJournal, MemoryJournal
from services.registry.store import RegistryError, RegistryStore

log = structlog.get_logger("passerelle.registry")

T = TypeVar("T")
MEDIA = "application/vnd.schemaregistry.v1+json"
_RETRY_START_S = 2.0
SERVICE = "registry"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that only look up, check or validate, never change anything: partners use them before going live.
OPEN_POSTS = frozenset(
    {
        "/subjects/{subject}",
        "/compatibility/subjects/{subject}/versions/{version}",
        "/compatibility/subjects/{subject}/versions",
        "/validate/{event}",
    }
)
REFUSALS = {
    "lecture_seule": "Registre en lecture seule : aucun opérateur n'est configuré, toute écriture est refusée.",
    "anonyme": "Écriture réservée à l'opérateur du registre : authentification HTTP Basic requise.",
    "identifiant_refuse": "Identifiant de l'opérateur du registre refusé.",
}


def is_open(method: str, path: str) -> bool:
    """Whether anyone may call ``method path`` (a route's path template) without the operator's credential."""
    return method in READ_METHODS or (method == "POST" and path in OPEN_POSTS)


class WriteGuard:
    """Lets the operator's requests through and refuses every other write with a Confluent-style 401."""

    def __init__(self, operator: OperatorCredential | None, refused: Counter) -> None:
        self.operator = operator
        self.refused = refused

    def check(self, request: Request, path: str) -> None:
        authorization = request.headers.get("authorization")
        if self.operator is not None and self.operator.accepts(authorization):
            log.info("registre.ecriture_autorisee", methode=request.method, chemin=path, operateur=self.operator.user)
            return
        reason = "lecture_seule" if self.operator is None else "identifiant_refuse" if authorization else "anonyme"
        self.refused.labels(reason).inc()
        client = request.client.host if request.client else None
        log.warning("registre.ecriture_refusee", methode=request.method, chemin=path, motif=reason, client=client)
        raise RegistryError(401, 40101, REFUSALS[reason], CHALLENGE)


class GuardedRoute(APIRoute):
    """A route that, unless it only reads, checks the operator's credential before it even reads the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.methods and all(is_open(method, self.path) for method in self.methods):
            return handler
        path = self.path

        async def guarded(request: Request) -> Response:
            guard: WriteGuard = request.app.state.write_guard
            guard.check(request, path)
            return await handler(request)

        return guarded


def _ok(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def _schema_body(payload: Any) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get("schema"), str):
        raise RegistryError(422, 42201, 'Invalid schema: body must be {"schema": "..."}')
    if payload.get("schemaType", "AVRO") != "AVRO":
        raise RegistryError(422, 42201, "Invalid schema: only AVRO is served here")
    return str(payload["schema"])


def _level(payload: Any) -> Level:
    raw = payload.get("compatibility") if isinstance(payload, dict) else None
    try:
        return Level(str(raw).upper())
    except ValueError:
        raise RegistryError(422, 42203, f"Invalid compatibility level: {raw}") from None


def journal_of(settings: Settings, catalogue: Catalogue, topic: str = SCHEMAS_TOPIC, replication: int = 1) -> Journal:
    """The broker's ``_schemas`` topic when a broker is configured, else this replica's memory."""
    store = RegistryStore.from_catalogue(catalogue)
    if settings.kafka_bootstrap:
        return KafkaJournal(settings, store, topic, replication)
    return MemoryJournal(store)


async def _keep_starting(journal: Journal, ready: Callable[[bool], None]) -> None:
    """Start the journal, again and again while the broker is not there: /health says why meanwhile."""
    while True:
        try:
            await journal.start()
        except JournalUnavailable as exc:
            log.warning("registre.demarrage_reporte", detail=str(exc))
            await asyncio.sleep(_RETRY_START_S)
            continue
        ready(True)
        return


def create_app(
    catalogue: Catalogue,
    operator: OperatorCredential | None = None,
    journal: Journal | None = None,
    *,
    asyncapi: str | None = None,
) -> FastAPI:
    """The registry's HTTP application over ``journal`` (memory when none); without ``operator`` it is read-only
    (every write answers 401). ``asyncapi`` is the AsyncAPI document it serves (default: the committed one)."""
    journal = journal or MemoryJournal(RegistryStore.from_catalogue(catalogue))
    page = AsyncApiPage(asyncapi if asyncapi is not None else committed_asyncapi(), catalogue_contracts(catalogue))
    store = journal.store
    typed = TypedContracts(catalogue)
    metrics = ServiceMetrics(SERVICE)
    refused = Counter(
        "passerelle_registry_writes_refused",
        "Écritures refusées par le registre des contrats, par motif (lecture_seule, anonyme, identifiant_refuse).",
        ["reason"],
        registry=metrics.registry,
    )

    def set_ready(ready: bool) -> None:
        metrics.ready.labels(SERVICE).set(1 if ready else 0)

    set_ready(journal.trouble is None)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        set_ready(False)
        starting = asyncio.create_task(_keep_starting(journal, set_ready))
        try:
            yield
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            await journal.stop()

    def write(decide: Decision[T]) -> T:
        if journal.trouble is not None:
            raise RegistryError(503, 50003, f"Registre pas encore prêt : {journal.trouble}")
        return journal.write(decide)

    app = FastAPI(
        title="Passerelle — registre des contrats",
        description="Sous-ensemble REST du Confluent Schema Registry et validation des messages (erreurs en français).",
        lifespan=lifespan,
    )
    app.state.journal = journal
    app.router.route_class = GuardedRoute
    app.state.write_guard = WriteGuard(operator, refused)

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> JSONResponse:
        return _ok({"error_code": exc.code, "message": exc.message}, exc.status, exc.headers)

    @app.exception_handler(ContractError)
    async def contract_error(_request: Request, exc: ContractError) -> JSONResponse:
        return _ok({"error_code": 40401, "message": str(exc)}, 404)

    @app.get("/health")
    def health() -> JSONResponse:
        trouble = journal.trouble
        if trouble is not None:
            return JSONResponse({"statut": "pas_pret", "raison": trouble}, status_code=503)
        return JSONResponse({"statut": "pret"})

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.yaml")
    def asyncapi_yaml() -> Response:
        if page.text is None:
            raise RegistryError(404, 40401, "Document AsyncAPI absent : contracts/asyncapi.yaml n'est pas déployé.")
        return Response(page.text, media_type="text/yaml")

    @app.get("/asyncapi.html")
    def asyncapi_html() -> HTMLResponse:
        rendered = page.html()
        if rendered is None:
            raise RegistryError(404, 40401, "Document AsyncAPI absent : contracts/asyncapi.yaml n'est pas déployé.")
        return HTMLResponse(rendered)

    @app.get("/subjects")
    def subjects(deleted: bool = False) -> JSONResponse:
        return _ok(store.listed(include_deleted=deleted))

    @app.get("/subjects/{subject}/versions")
    def versions(subject: str, deleted: bool = False) -> JSONResponse:
        return _ok([v.version for v in store.versions(subject, include_deleted=deleted)])

    @app.delete("/subjects/{subject}")
    def delete_subject(subject: str, permanent: bool = False) -> JSONResponse:
        return _ok(write(lambda s: s.plan_delete(subject, None, permanent)))

    @app.delete("/subjects/{subject}/versions/{version}")
    def delete_version(subject: str, version: str, permanent: bool = False) -> JSONResponse:
        return _ok(write(lambda s: s.plan_delete(subject, version, permanent))[0])

    @app.get("/subjects/{subject}/versions/{version}/referencedby")
    def referenced_by(subject: str, version: str) -> JSONResponse:
        store.version(subject, version)
        return _ok([])  # no contract references another: Passerelle's schemas are self-contained

    @app.get("/schemas/types")
    def schema_types() -> JSONResponse:
        return _ok(["AVRO"])

    @app.get("/schemas/ids/{schema_id}/subjects")
    def id_subjects(schema_id: int) -> JSONResponse:
        return _ok(sorted({subject for subject, _ in store.uses(schema_id)}))

    @app.get("/mode")
    def get_mode() -> JSONResponse:
        return _ok({"mode": store.mode})

    @app.put("/mode")
    def put_mode(payload: Any = Body(None)) -> JSONResponse:
        mode = str(payload.get("mode") if isinstance(payload, dict) else payload).upper()
        return _ok({"mode": write(lambda s: s.plan_mode(mode))})

    @app.post("/compatibility/subjects/{subject}/versions")
    def compatibility_all(subject: str, verbose: bool = False, payload: Any = Body(None)) -> JSONResponse:
        breaks = store.check(subject, _schema_body(payload), store.versions_or_none(store.subject_name(subject)))
        body: dict[str, Any] = {"is_compatible": not breaks}
        if verbose:
            body["messages"] = [b.describe() for b in breaks]
        return _ok(body)

    @app.get("/subjects/{subject}/versions/{version}")
    def version(subject: str, version: str) -> JSONResponse:
        v = store.version(subject, version)
        return _ok({"subject": subject, "version": v.version, "id": v.schema_id, "schema": v.text})

    @app.get("/subjects/{subject}/versions/{version}/schema")
    def version_schema(subject: str, version: str) -> JSONResponse:
        return _ok(store.version(subject, version).schema)

    @app.get("/schemas/ids/{schema_id}")
    def by_id(schema_id: int) -> JSONResponse:
        return _ok({"schema": store.schema(schema_id).text})

    @app.get("/schemas/ids/{schema_id}/versions")
    def id_versions(schema_id: int) -> JSONResponse:
        return _ok([{"subject": subject, "version": version} for subject, version in store.uses(schema_id)])

    @app.post("/subjects/{subject}")
    def lookup(subject: str, payload: Any = Body(None)) -> JSONResponse:
        v = store.lookup(subject, _schema_body(payload))
        return _ok({"subject": subject, "version": v.version, "id": v.schema_id, "schema": v.text})

    @app.post("/subjects/{subject}/versions")
    def register(subject: str, payload: Any = Body(None)) -> JSONResponse:
        text = _schema_body(payload)
        return _ok({"id": write(lambda s: s.plan_register(subject, text))})

    @app.post("/compatibility/subjects/{subject}/versions/{version}")
    def compatibility(subject: str, version: str, verbose: bool = False, payload: Any = Body(None)) -> JSONResponse:
        text = _schema_body(payload)
        existing = store.versions(subject)
        against = existing if store.level_of(subject).transitive else [store.version(subject, version)]
        breaks = store.check(subject, text, against)
        body: dict[str, Any] = {"is_compatible": not breaks}
        if verbose:
            body["messages"] = [b.describe() for b in breaks]
        return _ok(body)

    @app.get("/config")
    def get_config() -> JSONResponse:
        return _ok({"compatibilityLevel": store.level.value})

    @app.put("/config")
    def put_config(payload: Any = Body(None)) -> JSONResponse:
        level = _level(payload)
        return _ok({"compatibility": write(lambda s: s.plan_level(None, level)).value})

    @app.get("/config/{subject}")
    def get_subject_config(subject: str) -> JSONResponse:
        store.versions(subject)
        return _ok({"compatibilityLevel": store.level_of(subject).value})

    @app.put("/config/{subject}")
    def put_subject_config(subject: str, payload: Any = Body(None)) -> JSONResponse:
        level = _level(payload)
        return _ok({"compatibility": write(lambda s: s.plan_level(subject, level)).value})

    @app.post("/validate/{event}")
    async def validate(event: str, request: Request, version: str = "latest") -> JSONResponse:
        contract = typed.contract(canonical_subject(event) or event, version)
        raw = await request.body()
        try:
            contract.validate_json(raw)
        except ValidationFailed as failed:
            return JSONResponse(
                {
                    "valide": False,
                    "sujet": failed.subject,
                    "version": failed.version,
                    "erreurs": [e.as_dict() for e in failed.errors],
                },
                status_code=422,
            )
        return JSONResponse({"valide": True, "sujet": contract.schema.subject, "version": contract.schema.version})

    return app
