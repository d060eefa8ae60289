"""The contract registry: the Confluent Schema Registry REST subset clients use, and ``POST /validate``."""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.compat import Level
from passerelle.core.contracts.errors import ContractError, ValidationFailed
from passerelle.core.contracts.typed import TypedContracts
from services.registry.store import RegistryError, RegistryStore, subject_name

MEDIA = "application/vnd.schemaregistry.v1+json"


def _ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA)


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


def create_app(catalogue: Catalogue) -> FastAPI:
    store = RegistryStore.from_catalogue(catalogue)
    typed = TypedContracts(catalogue)
    app = FastAPI(
        title="Passerelle — registre des contrats",
        description="Sous-ensemble REST du Confluent Schema Registry et validation des messages (erreurs en français).",
    )

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> JSONResponse:
        return _ok({"error_code": exc.code, "message": exc.message}, exc.status)

    @app.exception_handler(ContractError)
    async def contract_error(_request: Request, exc: ContractError) -> JSONResponse:
        return _ok({"error_code": 40401, "message": str(exc)}, 404)

    @app.get("/subjects")
    def subjects() -> JSONResponse:
        return _ok(sorted(store.subjects))

    @app.get("/subjects/{subject}/versions")
    def versions(subject: str) -> JSONResponse:
        return _ok([v.version for v in store.versions(subject)])

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
        v = store.schema(schema_id)
        return _ok([{"subject": v.subject, "version": v.version}])

    @app.post("/subjects/{subject}")
    def lookup(subject: str, payload: Any = Body(None)) -> JSONResponse:
        v = store.lookup(subject, _schema_body(payload))
        return _ok({"subject": subject, "version": v.version, "id": v.schema_id, "schema": v.text})

    @app.post("/subjects/{subject}/versions")
    def register(subject: str, payload: Any = Body(None)) -> JSONResponse:
        return _ok({"id": store.register(subject, _schema_body(payload)).schema_id})

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
        store.level = _level(payload)
        return _ok({"compatibility": store.level.value})

    @app.get("/config/{subject}")
    def get_subject_config(subject: str) -> JSONResponse:
        store.versions(subject)
        return _ok({"compatibilityLevel": store.level_of(subject).value})

    @app.put("/config/{subject}")
    def put_subject_config(subject: str, payload: Any = Body(None)) -> JSONResponse:
        store.subject_levels[subject_name(subject)] = _level(payload)
        return _ok({"compatibility": store.level_of(subject).value})

    @app.post("/validate/{event}")
    async def validate(event: str, request: Request, version: str = "latest") -> JSONResponse:
        contract = typed.contract(subject_name(event), version)
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
