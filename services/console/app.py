"""The operator console: flows, dead letters and their replay, contracts, partner views and the audit journal.

Every page needs a login: a session cookie from the login page (local account or OIDC token), or, for scripts
reading pages, HTTP Basic against the same accounts or an OIDC bearer token. Every form that changes something
needs the cookie session and its CSRF token; replaying needs the ``operateur`` role. ``/metrics`` and
``/health`` are open, like every service's: they belong on the internal network only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol
from urllib.parse import parse_qs, quote

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.audit import read_public_keys
from passerelle.runtime.operator import challenge, parse_basic
from passerelle.runtime.replay import DlqEntry
from passerelle.settings import Settings
from services.adapter.check import NativeReport
from services.console import pages, screens
from services.console.access import COOKIE, ConsoleAccess, Role, Session, TokenRefused
from services.console.contracts import diff, examples
from services.console.flows import flows
from services.console.html import SESSION_SLOT
from services.console.journal import Search, check, positions, search
from services.console.oidc import FLOW_COOKIE, FLOW_PATH, FLOW_TTL_S, OidcLogin, Pending
from services.console.replays import Replays, TopicReader
from services.console.settings import ConsoleSettings
from services.console.sources import DlqSource, HttpMetrics, KafkaDlq, KafkaSender, KafkaTopics, MetricsSource

log = structlog.get_logger("passerelle.console")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

REALM = "passerelle-console"
PRE_COOKIE = "passerelle_console_connexion"
REFUSED = "Console réservée aux opérateurs : connexion requise (page /connexion, HTTP Basic ou jeton OIDC)."
REPLAY_REFUSED = "Rejeu réservé au rôle opérateur : votre compte est en lecture seule."
FORM_REFUSED = "Formulaire refusé : jeton CSRF absent ou invalide (rechargez la page et recommencez)."
# No script, no frame (a replay button cannot be clicked through another site's page), no cached personal data.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_FORM_MAX = 4 * 1024 * 1024  # a corrected message or a pasted one, with room; never an unbounded read


class OpenDataArchive(Protocol):
    """One month's open-data files zipped, read from the topics: the download's name and bytes."""

    async def __call__(self, month: str, chosen: str) -> tuple[str, bytes]: ...


class NativeCheck(Protocol):
    def __call__(self, partner: str, event: str, payload: bytes) -> NativeReport: ...


@dataclass(frozen=True)
class Console:
    """What the console reads and who may use it."""

    profiles: Profiles
    catalogue: Catalogue
    access: ConsoleAccess
    metrics: MetricsSource
    dlq: DlqSource
    replays: Replays | None = None
    reader: TopicReader | None = None  # the audit journal
    public_keys: tuple[Ed25519PublicKey, ...] = ()
    check: NativeCheck | None = None
    examples_dir: Path | None = None
    asyncapi_file: Path | None = None
    documents: Mapping[str, str] = field(default_factory=dict)
    services: Sequence[str] = topics.SERVICES
    clock: Callable[[], float] = field(default=time.time)
    opendata: OpenDataArchive | None = None
    # Run once at start (the replay journal's topic created when missing).
    prepare: Callable[[], Awaitable[None]] | None = None


def build(
    settings: Settings,
    console: ConsoleSettings,
    check: NativeCheck | None = None,
    opendata: OpenDataArchive | None = None,
) -> Console:
    """The console as deployed: metrics over HTTP, the topics with the settings' Kafka identity."""
    catalogue = Catalogue.load(settings.schemas_dir)
    profiles = Profiles.load(settings.contracts_dir / "partners", frozenset(catalogue.subjects))
    metrics = HttpMetrics(lambda: console.metrics)
    reader = KafkaTopics(KafkaAccess.of(settings))
    keys = read_public_keys([settings.audit_public_key_file]) if settings.audit_public_key_file else []
    asyncapi = settings.contracts_dir / "asyncapi.yaml"
    return Console(
        profiles,
        catalogue,
        console.access(),
        metrics,
        KafkaDlq(KafkaAccess.of(settings)),
        Replays(reader, KafkaSender(settings)),
        reader,
        tuple(keys),
        check,
        settings.contracts_dir / "examples",
        asyncapi if asyncapi.is_file() else None,
        {"AsyncAPI des topics": "/contrats/asyncapi.yaml"} if asyncapi.is_file() else {},
        prepare=reader.ensure_journal,
        opendata=opendata,
    )


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form, read without a multipart parser (the console's forms post no files)."""
    body = await request.body()
    if len(body) > _FORM_MAX:
        raise HTTPException(413, "formulaire trop volumineux")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _safe_next(target: str) -> str:
    # Only a path of this site: « //ailleurs » or « https://… » would send a fresh session's user elsewhere.
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def who(request: Request) -> Session:
    """The logged-in user: cookie session, else HTTP Basic or an OIDC bearer token; else the login page or a 401."""
    access: ConsoleAccess = request.app.state.access
    session = access.sessions.read(request.cookies.get(COOKIE))
    if session is not None:
        return session
    authorization = request.headers.get("authorization") or ""
    given = parse_basic(authorization)
    if given and access.basic:
        role = access.accounts.check(*given)
        if role is not None:
            return Session(given[0], role, "", math.inf, "HTTP Basic")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and access.oidc is not None:
        try:
            user, role = access.oidc.verify(token.strip())
            return Session(user, role, "", math.inf, "OIDC (jeton porteur)")
        except TokenRefused as refused:
            log.warning("console.jeton_refuse", raison=str(refused))
    client = request.client.host if request.client else None
    log.warning("console.acces_refuse", chemin=request.url.path, client=client, configure=access.configured)
    if "text/html" in request.headers.get("accept", ""):  # a browser: the login page, then back here
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "connexion requise", {"Location": f"/connexion?suite={quote(target, safe='')}"})
    raise HTTPException(401, REFUSED, challenge(REALM))


User = Annotated[Session, Depends(who)]


def create_app(console: Console) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if console.prepare is not None:
            await console.prepare()
        yield

    app = FastAPI(title="Passerelle — console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.middleware("http")
    async def guarded(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    registry = CollectorRegistry()  # the console's own, so two apps in one process never share a count
    raw_views = Counter(
        "passerelle_console_raw_views",
        "Messages d'origine de la DLQ montrés sans masquage, à la demande d'un opérateur.",
        registry=registry,
    )
    replayed = Counter(
        "passerelle_console_replays", "Messages de DLQ rejoués depuis la console.", ["service"], registry=registry
    )
    logins = Counter("passerelle_console_logins", "Connexions à la console.", ["resultat"], registry=registry)
    access = console.access
    app.state.access = access

    def render(session: Session, html: str, status: int = 200) -> HTMLResponse:
        csrf = access.sessions.csrf(session) if session.nonce else None
        return HTMLResponse(html.replace(SESSION_SLOT, screens.session_bar(session, csrf), 1), status)

    def form_csrf(session: Session) -> str | None:
        # Forms only for a cookie session: HTTP Basic and bearer tokens are for scripts that read.
        return access.sessions.csrf(session) if session.nonce else None

    async def posted(request: Request, session: Session) -> dict[str, list[str]]:
        form = await _form(request)
        if not session.nonce or not access.sessions.csrf_ok(session, _one(form, "csrf")):
            log.warning("console.csrf_refuse", chemin=request.url.path, operateur=session.user)
            raise HTTPException(403, FORM_REFUSED)
        return form

    def start_session(user: str, role: Role, via: str, after: str, landing: bool = False) -> Response:
        cookie, _ = access.sessions.issue(user, role, via)
        target = _safe_next(after)
        # Back from an issuer (a cross-site navigation), a page of ours leads on: the strict cookie then goes along.
        response: Response = (
            HTMLResponse(screens.landing_page(target).replace(SESSION_SLOT, "", 1))
            if landing
            else RedirectResponse(target, 303)
        )
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=access.sessions.ttl_s,
            httponly=True,
            samesite="strict",
            secure=access.secure_cookie,
        )
        response.delete_cookie(PRE_COOKIE)
        logins.labels("ok").inc()
        log.info("console.connexion", operateur=user, role=role.value, via=via)
        return response

    def login_form(after: str, error: str = "", status: int = 200) -> HTMLResponse:
        pre = secrets.token_urlsafe(16)
        label = access.login.label if access.login else None
        html = screens.login_page(access.sessions.login_csrf(pre), after, error, access.oidc is not None, label)
        response = HTMLResponse(html.replace(SESSION_SLOT, "", 1), status)
        response.set_cookie(
            PRE_COOKIE, pre, max_age=3600, httponly=True, samesite="strict", secure=access.secure_cookie
        )
        return response

    async def login_posted(request: Request) -> dict[str, list[str]] | HTMLResponse:
        form = await _form(request)
        pre = request.cookies.get(PRE_COOKIE) or ""
        token = _one(form, "csrf")
        if not pre or not token or not secrets.compare_digest(token, access.sessions.login_csrf(pre)):
            return login_form(_one(form, "suite"), FORM_REFUSED, 403)
        return form

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"statut": "pret"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/connexion", response_class=HTMLResponse)
    async def login_view(suite: str = "/") -> HTMLResponse:
        return login_form(suite)

    @app.post("/connexion", response_model=None)
    async def login(request: Request) -> Response:
        form = await login_posted(request)
        if isinstance(form, HTMLResponse):
            return form
        user = _one(form, "utilisateur")
        role = await asyncio.to_thread(access.accounts.check, user, _one(form, "mot_de_passe"))
        if role is None:
            logins.labels("refus").inc()
            log.warning("console.connexion_refusee", utilisateur=user)
            return login_form(_one(form, "suite"), "Utilisateur ou mot de passe incorrect.", 401)
        return start_session(user, role, "compte local", _one(form, "suite"))

    @app.post("/connexion/jeton", response_model=None)
    async def login_token(request: Request) -> Response:
        form = await login_posted(request)
        if isinstance(form, HTMLResponse):
            return form
        if access.oidc is None:
            return login_form(_one(form, "suite"), "Aucun émetteur OIDC configuré.", 400)
        try:
            user, role = await asyncio.to_thread(access.oidc.verify, _one(form, "jeton").strip())
        except TokenRefused as refused:
            logins.labels("refus").inc()
            return login_form(_one(form, "suite"), str(refused), 401)
        return start_session(user, role, "OIDC", _one(form, "suite"))

    def callback_url(request: Request, login: OidcLogin) -> str:
        return login.redirect_url or str(request.url_for("oidc_callback"))

    def flow_refused(after: str, why: str, status: int) -> HTMLResponse:
        logins.labels("refus").inc()
        log.warning("console.oidc_refuse", raison=why)  # the reason only: never a code or a token
        response = login_form(after, why, status)
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return response

    @app.get(FLOW_PATH + "/debut", response_model=None)
    async def oidc_start(request: Request, suite: str = "/") -> Response:
        """To the issuer's authorization endpoint; a link, not a form (CSP form-action would stop the redirect)."""
        login = access.login
        if login is None:
            return login_form(suite, "Aucune connexion par redirection OIDC configurée.", 404)
        pending = Pending.new(_safe_next(suite), console.clock())
        try:
            target = await login.authorization_url(pending, callback_url(request, login))
        except TokenRefused as refused:
            return flow_refused(suite, str(refused), 502)
        response = RedirectResponse(target, 303)
        # Lax, not strict: the issuer sends the browser back by a cross-site navigation, which must carry it.
        response.set_cookie(
            FLOW_COOKIE,
            pending.seal(access.sessions.key),
            max_age=FLOW_TTL_S,
            path=FLOW_PATH,
            httponly=True,
            samesite="lax",
            secure=access.secure_cookie,
        )
        return response

    @app.get(FLOW_PATH, response_model=None)
    async def oidc_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
        login = access.login
        if login is None:
            return login_form("/", "Aucune connexion par redirection OIDC configurée.", 404)
        pending = Pending.unseal(request.cookies.get(FLOW_COOKIE), access.sessions.key, console.clock())
        if pending is None:
            return flow_refused("/", "Connexion OIDC expirée ou commencée ailleurs : recommencez.", 401)
        if error:  # an OAuth error code (access_denied…), shown escaped and cut short
            return flow_refused(pending.after, f"L'émetteur a refusé la connexion ({error[:60]}).", 401)
        try:
            user, role = await login.finish(pending, state, code, callback_url(request, login))
        except TokenRefused as refused:
            return flow_refused(pending.after, str(refused), 401)
        response = start_session(user, role, "OIDC", pending.after, landing=True)
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return response

    @app.post("/deconnexion")
    async def logout(request: Request, session: User) -> RedirectResponse:
        await posted(request, session)
        response = RedirectResponse("/connexion", 303)
        response.delete_cookie(COOKIE)
        log.info("console.deconnexion", operateur=session.user)
        return response

    @app.get("/", response_class=HTMLResponse)
    async def flows_view(session: User) -> HTMLResponse:
        scrape = await console.metrics.scrape()
        figures = flows(console.profiles, scrape.samples, console.clock())
        return render(session, pages.flows_page(figures, scrape.unreachable))

    @app.get("/dlq", response_class=HTMLResponse)
    async def dlq_view(
        session: User,
        service: str = "",
        partenaire: str = "",
        evenement: str = "",
        code: str = "",
        depuis: str = "",
        jusqua: str = "",
    ) -> HTMLResponse:
        chosen = pages.DlqFilters(service, partenaire, evenement, code, depuis, jusqua)
        wanted = [service] if service in console.services else list(console.services)
        entries = [e for e in await console.dlq.entries(wanted) if chosen.matches(e)]
        entries.sort(key=lambda e: e.timestamp_ms, reverse=True)
        csrf = form_csrf(session) if session.may_replay else None
        events = sorted(console.catalogue.subjects)
        return render(session, pages.dlq_page(entries, console.services, events, chosen, csrf))

    async def find(service: str, partition: int, offset: int) -> DlqEntry | None:
        if service not in console.services:
            return None
        found = [e for e in await console.dlq.entries([service]) if (e.partition, e.offset) == (partition, offset)]
        return found[0] if found else None

    @app.get("/dlq/{service}/{partition}/{offset}", response_class=HTMLResponse)
    async def record_view(
        session: User, service: str, partition: int, offset: int, brut: Annotated[int, Query()] = 0
    ) -> HTMLResponse:
        entry = await find(service, partition, offset)
        if entry is None:
            what = f"Service inconnu : {service}" if service not in console.services else None
            what = what or f"Aucun message {partition}:{offset} dans {topics.dlq(service)}"
            return render(session, pages.not_found_page(what), 404)
        if brut:  # personal data shown on request: who saw which record is kept, never the content
            raw_views.inc()
            log.warning("console.message_brut_consulte", operateur=session.user, dlq=entry.topic, ref=entry.ref)
        csrf = form_csrf(session) if session.may_replay else None
        why = pages.NO_FORM if session.may_replay else pages.READ_ONLY
        return render(session, pages.record_page(entry, raw=bool(brut), csrf=csrf, no_replay=why))

    @app.post("/rejouer", response_class=HTMLResponse)
    async def replay(request: Request, session: User) -> Response:
        form = await posted(request, session)
        if not session.may_replay:
            log.warning("console.rejeu_refuse", operateur=session.user, role=session.role.value)
            return render(session, screens.refused_page(REPLAY_REFUSED), 403)
        if console.replays is None:
            return render(session, screens.refused_page("Rejeu indisponible : aucun broker configuré."), 503)
        keys = list(dict.fromkeys(form.get("ref", [])))
        if not keys:
            return render(session, screens.refused_page("Aucun message choisi."), 400)
        chosen: list[tuple[DlqEntry, bytes | None]] = []
        by_service: dict[str, list[DlqEntry]] = {}
        for key in keys:
            service, _, rest = key.partition("/")
            partition, _, offset = rest.partition("/")
            if service not in console.services or not partition.isdigit() or not offset.isdigit():
                return render(session, pages.not_found_page(f"Référence invalide : {key}"), 404)
            if service not in by_service:
                by_service[service] = await console.dlq.entries([service])
            found = [e for e in by_service[service] if (e.partition, e.offset) == (int(partition), int(offset))]
            if not found:
                return render(session, pages.not_found_page(f"Aucun message {key}"), 404)
            chosen.append((found[0], None))
        if "corps" in form and len(chosen) == 1:  # a correction is for one message at a time
            entry = chosen[0][0]
            encoding = pages.body_encoding(entry.value)
            chosen = [(entry, _one(form, "corps").encode(encoding, "replace"))]
        if _one(form, "confirme") != "1":
            return render(session, screens.confirm_page(chosen, access.sessions.csrf(session)))
        try:
            batch, lines = await console.replays.replay(chosen, session.user, session.via)
        except ValueError as error:  # a record that does not say where it came from cannot go back there
            return render(session, screens.refused_page(str(error)), 400)
        for line in lines:
            replayed.labels(line.dlq.removeprefix(topics.dlq(""))).inc()
        return RedirectResponse(f"/rejeux?lot={batch}", 303)

    @app.get("/rejeux", response_class=HTMLResponse)
    async def replays_view(session: User, lot: str = "") -> HTMLResponse:
        if console.replays is None:
            return render(session, screens.journal_page([], {}, lot))
        lines = await console.replays.journal()
        lines = [line for line in lines if line.batch == lot] if lot else lines[:200]
        outcomes = await console.replays.outcomes(lines[:20])
        return render(session, screens.journal_page(lines, outcomes, lot))

    @app.get("/contrats", response_class=HTMLResponse)
    async def contracts_view(session: User) -> HTMLResponse:
        return render(session, screens.contracts_page(console.catalogue, console.documents))

    @app.get("/contrats/asyncapi.yaml")
    async def asyncapi(_: User) -> Response:
        if console.asyncapi_file is None:
            raise HTTPException(404, "document AsyncAPI absent")
        return PlainTextResponse(console.asyncapi_file.read_text(encoding="utf-8"), media_type="text/yaml")

    @app.get("/contrats/valider", response_class=HTMLResponse)
    async def validate_form(session: User) -> HTMLResponse:
        csrf = form_csrf(session) or ""
        return render(session, screens.validate_page(console.profiles, console.catalogue, csrf))

    @app.post("/contrats/valider", response_class=HTMLResponse)
    async def validate(request: Request, session: User) -> HTMLResponse:
        form = await posted(request, session)
        partner, event, message = _one(form, "partenaire"), _one(form, "evenement"), _one(form, "message")
        csrf = access.sessions.csrf(session)
        args = (console.profiles, console.catalogue, csrf, partner, event, message)
        if console.check is None:
            return render(session, screens.validate_page(*args, error="Validation indisponible ici."), 503)
        if console.profiles.get(partner) is None or event not in console.catalogue:
            return render(session, screens.validate_page(*args, error="Partenaire ou événement inconnu."), 400)
        profile = console.profiles[partner]
        published = profile.publishes.get(event)
        csv = published is not None and published.dialect.value == "region-csv"
        encoding = profile.csv.encoding if csv else "utf-8"
        payload = message.replace("\r\n", "\n").encode(encoding, "replace")
        try:
            report = await asyncio.to_thread(console.check, partner, event, payload)
        except ValueError as error:
            return render(session, screens.validate_page(*args, error=str(error)), 400)
        return render(session, screens.validate_page(*args, report=report))

    @app.get("/donnees-ouvertes", response_class=HTMLResponse)
    async def open_data(session: User) -> HTMLResponse:
        today = dt.datetime.fromtimestamp(console.clock(), dt.UTC).date()
        last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        return render(session, screens.open_data_page(last_month, console.opendata is not None))

    @app.get("/donnees-ouvertes/archive", response_model=None)
    async def open_data_archive(session: User, periode: str = "", format: str = "csv") -> Response:  # noqa: A002
        if console.opendata is None:
            return render(session, screens.open_data_page(periode, False), 503)
        if not _MONTH.fullmatch(periode) or format not in ("csv", "parquet"):
            error = "Mois attendu au format AAAA-MM, format csv ou parquet."
            return render(session, screens.open_data_page(periode, True, error), 400)
        name, data = await console.opendata(periode, format)
        log.info("console.donnees_ouvertes", operateur=session.user, mois=periode, format=format)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type="application/zip", headers=headers)

    @app.get("/contrats/{subject}", response_class=HTMLResponse)
    async def contract_view(session: User, subject: str, version: int | None = None) -> HTMLResponse:
        if subject not in console.catalogue:
            return render(session, pages.not_found_page(f"Contrat inconnu : {subject}"), 404)
        versions = console.catalogue.versions(subject)
        shown = next((v for v in versions if v.version == version), versions[-1])
        found = examples(console.examples_dir, subject)
        return render(session, screens.contract_page(versions, shown, found))

    @app.get("/contrats/{subject}/diff", response_class=HTMLResponse)
    async def contract_diff(session: User, subject: str, de: int, a: int) -> HTMLResponse:
        if subject not in console.catalogue:
            return render(session, pages.not_found_page(f"Contrat inconnu : {subject}"), 404)
        by_number = {v.version: v for v in console.catalogue.versions(subject)}
        if de not in by_number or a not in by_number:
            return render(session, pages.not_found_page(f"Version inconnue de {subject}"), 404)
        changes = diff(by_number[de], by_number[a])
        return render(session, screens.diff_page(subject, de, a, changes))

    @app.get("/partenaires", response_class=HTMLResponse)
    async def partners_view(session: User) -> HTMLResponse:
        return render(session, pages.partners_page(console.profiles))

    @app.get("/partenaires/{partner}", response_class=HTMLResponse)
    async def partner_view(session: User, partner: str) -> HTMLResponse:
        profile = console.profiles.get(partner)
        if profile is None:
            return render(session, pages.not_found_page(f"Partenaire inconnu : {partner}"), 404)
        scraped = await console.metrics.scrape()
        return render(session, pages.partner_page(console.catalogue, profile, scraped.samples))

    @app.get("/audit", response_class=HTMLResponse)
    async def audit_view(
        session: User,
        evenement: str = "",
        partenaire: str = "",
        kind: Annotated[str, Query(alias="type")] = "",
        depuis: str = "",
        jusqua: str = "",
    ) -> HTMLResponse:
        wanted = Search(evenement.strip(), partenaire.strip(), kind.strip(), depuis, jusqua)
        records = positions(await console.reader.records(topics.AUDIT_TOPIC)) if console.reader else []
        found, total = search(records, wanted)
        return render(session, screens.audit_page(found, total, wanted))

    @app.get("/audit/verification", response_class=HTMLResponse)
    async def audit_verify(session: User) -> HTMLResponse:
        if not console.public_keys or console.reader is None:
            return render(session, screens.verification_page(None, 0))
        records = positions(await console.reader.records(topics.AUDIT_TOPIC))
        report = await asyncio.to_thread(check, records, console.public_keys)
        log.info("console.audit_verifie", operateur=session.user, integre=report.ok, ruptures=len(report.breaks))
        return render(session, screens.verification_page(report, len(console.public_keys)))

    return app
