"""Everything on one machine: the embedded broker, the contract registry and every service.

Used by ``passerelle dev up``, the demo and the end-to-end tests, so that what
they show runs over a real Kafka-protocol broker and real HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog
import uvicorn
from rich.console import Console
from rich.table import Table

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.broker.apache import KafkaCluster
from passerelle.broker.embedded import LOOPBACK, EmbeddedBroker, embedded_settings
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.runtime.audit import KeyPairFiles, write_key_pair
from passerelle.runtime.issuer import LocalIssuer
from passerelle.runtime.operator import OperatorCredential
from passerelle.runtime.service import ServiceRuntime, http_server
from passerelle.settings import Settings
from passerelle.stack.deployables import SERVICES, build_service
from passerelle.stack.rights import GATEWAY, REGISTRY, provision

if TYPE_CHECKING:
    from services.console.settings import ConsoleSettings

log = structlog.get_logger("passerelle.stack")
# A service's own stop is bounded (its hop within about 35 s); beyond these something hangs.
_START_LIMIT_S = 120.0
_STOP_LIMIT_S = 60.0
# The local stack's console accounts, and the audience of the local issuer's tokens that open a console session.
CONSOLE_OPERATOR, CONSOLE_READER, CONSOLE_AUDIENCE = "operateur", "lecture", "passerelle-console"


def with_audit_keys(settings: Settings, keep_in: Path | None = None) -> tuple[Settings, Path | None]:
    """``settings`` with an audit key pair: the configured one, else the one kept in ``keep_in`` (made there once,
    so a resumed stack continues its chain), else an ephemeral one in a new temporary folder."""
    if settings.audit_signing_key_file is not None:
        return settings, None
    if keep_in is not None:
        kept = KeyPairFiles(keep_in / "audit-signing.pem", keep_in / "audit-public.pem")
        if not kept.signing.exists():
            kept = write_key_pair(keep_in)
        update = {"audit_signing_key_file": kept.signing, "audit_public_key_file": kept.public}
        return settings.model_copy(update=update), None
    folder = Path(tempfile.mkdtemp(prefix="passerelle-audit-"))
    files = write_key_pair(folder)
    log.warning(
        "audit.cle_ephemere",
        detail="aucune clé d'audit configurée : paire de clés éphémère, effacée à l'arrêt",
        cle_publique=str(files.public),
    )
    update = {"audit_signing_key_file": files.signing, "audit_public_key_file": files.public}
    return settings.model_copy(update=update), folder


def bound_socket() -> socket.socket:
    """A listening socket on a free loopback port, held from the start so no one else can take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock


@dataclass
class RunningService:
    runtime: ServiceRuntime
    server: uvicorn.Server
    port: int
    task: asyncio.Task[None]

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/metrics"


BrokerKind = Literal["tansu", "kafka"]


@dataclass
class Stack:
    """Starts and stops a whole Passerelle on loopback.

    The broker is the configured one (``PASSERELLE_KAFKA_BOOTSTRAP``), else one started here: the embedded Tansu
    (memory only), or Apache Kafka keeping its data in ``data_dir``, so a stopped stack can be resumed.
    The registry's writes need ``registry_operator``, else a credential generated for this stack alone, its
    password written to ``registry_password_file`` for the developer (removed at stop).
    """

    settings: Settings
    services: Sequence[str] = tuple(SERVICES)
    with_registry: bool = True
    broker_kind: BrokerKind = "tansu"
    data_dir: Path | None = None
    broker: EmbeddedBroker | None = None
    cluster: KafkaCluster | None = None
    running: dict[str, RunningService] = field(default_factory=dict)
    registry_port: int | None = None
    registry_operator: OperatorCredential | None = None
    registry_credential: OperatorCredential | None = None
    registry_password_file: Path | None = None
    # Each service's own Kafka identity, by service name; a service not named runs with the stack's settings.
    identities: dict[str, KafkaAccess] = field(default_factory=dict)
    with_gateway: bool = True
    gateway_port: int | None = None
    # The local OAuth2 issuer the gateway trusts here; its JWKS and one token per partner in ``gateway_dir``.
    issuer: LocalIssuer | None = None
    gateway_dir: Path | None = None
    with_console: bool = True
    console_port: int | None = None
    # The console's operator (may replay) and read-only accounts: the configured ones, else generated for this stack.
    console_operator: OperatorCredential | None = None
    console_readonly: OperatorCredential | None = None
    console_credential: OperatorCredential | None = None
    console_reader: OperatorCredential | None = None
    # PASSERELLE_CONSOLE_*: an accounts file, OIDC; unset OIDC: the local issuer's tokens for « passerelle-console ».
    console_settings: ConsoleSettings | None = None
    _console: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
    _gateway: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
    _registry: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
    _registry_secret: Path | None = None
    _ephemeral_keys: Path | None = None

    @property
    def bootstrap(self) -> str:
        assert self.settings.kafka_bootstrap
        return self.settings.kafka_bootstrap

    @property
    def access(self) -> KafkaAccess:
        """The stack's cluster as its operator sees it (every right)."""
        return KafkaAccess.of(self.settings)

    @property
    def registry_url(self) -> str | None:
        return f"http://{LOOPBACK}:{self.registry_port}" if self.registry_port else None

    @property
    def gateway_url(self) -> str | None:
        return f"http://{LOOPBACK}:{self.gateway_port}" if self.gateway_port else None

    @property
    def console_url(self) -> str | None:
        return f"http://{LOOPBACK}:{self.console_port}" if self.console_port else None

    async def start(self, ready_limit_s: float = 60.0) -> Stack:
        if not self.settings.kafka_bootstrap and self.broker_kind == "kafka":
            data = self.data_dir / "kafka" if self.data_dir else None
            self.cluster = await asyncio.to_thread(KafkaCluster(nodes=1, data_dir=data).start)
            self.settings = self.settings.model_copy(update=self.cluster.access.settings_fields())
        elif not self.settings.kafka_bootstrap:
            self.broker = EmbeddedBroker().start()
            self.settings = embedded_settings(self.settings, self.broker.bootstrap)
        if self._ephemeral_keys is None:
            keys = self.data_dir / "audit" if self.data_dir else None
            if keys:
                keys.mkdir(parents=True, exist_ok=True)
            self.settings, self._ephemeral_keys = with_audit_keys(self.settings, keys)
        catalogue = Catalogue.load(self.settings.schemas_dir)
        profiles = Profiles.load(self.settings.contracts_dir / "partners", frozenset(catalogue.subjects))
        await ensure_topics(self.access, topics.all_topics(profiles.ids, catalogue.subjects))
        if self.cluster is not None:  # as in production: each service its own principal, only its own rights
            cluster = self.cluster
            own = await asyncio.to_thread(lambda: provision(cluster, profiles.ids, self.settings))
            self.identities = {**own, **self.identities}
        if self.with_registry:
            await self._start_registry(catalogue, ready_limit_s)
        if self.with_gateway:
            await self._start_gateway(profiles, ready_limit_s)
        # Started together: each consumer-group join takes seconds on its own.
        await asyncio.gather(*(self.add(name) for name in self.services))
        if self.with_console:
            await self._start_console(catalogue, profiles)
        await self.wait_ready(ready_limit_s)
        return self

    async def add(self, name: str) -> RunningService:
        """Start one service (also used by tests to restart a service after stopping it)."""
        sock = bound_socket()
        port = sock.getsockname()[1]
        settings = self.settings.model_copy(update={"metrics_port": port})
        if self.registry_url and not settings.registry_url:  # ids from the stack's registry, as in production
            settings = settings.model_copy(update={"registry_url": self.registry_url})
        if name in self.identities:  # its own principal, which may not create topics: the stack did
            update = {**self.identities[name].settings_fields(), "create_topics": False}
            settings = settings.model_copy(update=update)
        runtime = build_service(name, settings)
        server = http_server(runtime, LOOPBACK, port)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        deadline = asyncio.get_running_loop().time() + _START_LIMIT_S
        while not server.started:
            if task.done():
                task.result()  # raises the start error
                raise RuntimeError(f"{name} s'est arrêté au démarrage")
            if asyncio.get_running_loop().time() > deadline:
                await _shut((server, task), name)
                raise TimeoutError(f"{name} ne démarre pas après {_START_LIMIT_S:.0f} s")
            await asyncio.sleep(0.02)
        self.running[name] = RunningService(runtime, server, port, task)
        return self.running[name]

    async def remove(self, name: str) -> None:
        service = self.running.pop(name)
        await _shut((service.server, service.task), name)

    async def wait_ready(self, limit_s: float = 60.0) -> None:
        try:
            async with asyncio.timeout(limit_s):
                while not all(s.runtime.ready for s in self.running.values()):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            waiting = {name: s.runtime.trouble for name, s in self.running.items() if not s.runtime.ready}
            raise TimeoutError(f"services pas prêts après {limit_s:.0f} s : {waiting}") from None

    async def _start_registry(self, catalogue: Catalogue, limit_s: float) -> None:
        """The registry as deployed: its schemas in the broker's ``_schemas`` topic, as its own principal."""
        from services.registry.app import create_app, journal_of

        credential = self.registry_operator or self._generated_operator()
        settings = self.settings
        if REGISTRY in self.identities:
            settings = settings.model_copy(update=self.identities[REGISTRY].settings_fields())
        journal = journal_of(settings, catalogue)
        app = create_app(catalogue, credential, journal)
        self._registry, self.registry_port = await _serve(app, "le registre", limit_s, lambda: journal.trouble)
        self.registry_credential = credential

    async def _start_gateway(self, profiles: Profiles, limit_s: float) -> None:
        """The partner gateway, as its own principal, trusting a local issuer whose keys live in a folder of its own."""
        from passerelle.stack.gateway import build_gateway
        from services.gateway.app import create_app
        from services.gateway.webhooks import new_secret

        self.gateway_dir = Path(tempfile.mkdtemp(prefix="passerelle-gateway-"))
        self.issuer = self.issuer or LocalIssuer(self.settings.gateway_issuer, self.settings.gateway_audience)
        update = {
            "gateway_issuer": self.issuer.issuer,
            "gateway_jwks_url": self.issuer.write_jwks(self.gateway_dir / "jwks.json"),
        }
        if GATEWAY in self.identities:
            update |= self.identities[GATEWAY].settings_fields()
        secrets = self.gateway_dir / "webhooks"
        secrets.mkdir(mode=0o700)
        for profile in profiles:  # this stack's own signing secrets, beside the tokens, for the developer's receiver
            if profile.webhook is not None:
                (secrets / f"{profile.id}.secret").touch(mode=0o600)
                (secrets / f"{profile.id}.secret").write_text(new_secret() + "\n", encoding="utf-8")
        gateway = build_gateway(self.settings.model_copy(update=update), webhook_secrets=secrets)
        for partner in profiles.ids:  # for the developer's curl: long-lived, this stack only
            token = self.gateway_dir / f"{partner}.token"
            token.touch(mode=0o600)
            token.write_text(self.issuer.mint(partner, ttl_s=12 * 3600) + "\n", encoding="utf-8")
        served = await _serve(create_app(gateway), "l'API des partenaires", limit_s, lambda: gateway.answers.trouble)
        self._gateway, self.gateway_port = served

    async def _start_console(self, catalogue: Catalogue, profiles: Profiles) -> None:
        """The operator console, reading the running services' /metrics and the topics, replaying as the operator."""
        from passerelle.runtime.audit import read_public_keys
        from passerelle.stack.console import open_data_archive
        from passerelle.stack.native_check import check_native_message
        from services.console.access import Accounts, OidcVerifier, Role
        from services.console.app import Console, create_app
        from services.console.replays import JOURNAL_TOPIC, Replays
        from services.console.settings import ConsoleSettings
        from services.console.sources import HttpMetrics, KafkaDlq, KafkaSender, KafkaTopics

        operator = self.console_operator or OperatorCredential.generate(CONSOLE_OPERATOR)
        reader = self.console_readonly or OperatorCredential.generate(CONSOLE_READER)
        own = Accounts.from_credentials({Role.OPERATOR: [operator], Role.READER: [reader]})
        access = (self.console_settings or ConsoleSettings()).access(own)
        if access.oidc is None and self.issuer is not None and self.gateway_dir is not None:
            jwks = (self.gateway_dir / "jwks.json").resolve().as_uri()
            oidc = OidcVerifier(self.issuer.issuer, CONSOLE_AUDIENCE, jwks, "roles", frozenset(), frozenset())
            access = dataclasses.replace(access, oidc=oidc)
        settings = self.settings
        # The replay journal: append-only, kept forever (who replayed what is an audit question).
        await ensure_topics(self.access, [topics.TopicSpec.of(JOURNAL_TOPIC)])
        topics_reader = KafkaTopics(self.access)
        public = settings.audit_public_key_file
        documents = {"AsyncAPI des topics": "/contrats/asyncapi.yaml"}
        if self.registry_url:
            documents["OpenAPI du registre des contrats"] = f"{self.registry_url}/openapi.json"
        if self.gateway_url:
            documents["OpenAPI de l'API des partenaires"] = f"{self.gateway_url}/openapi.json"
        console = Console(
            profiles,
            catalogue,
            access,
            HttpMetrics(self._scraped_by_console),
            KafkaDlq(self.access),
            Replays(topics_reader, KafkaSender(settings)),
            topics_reader,
            tuple(read_public_keys([public])) if public else (),
            lambda partner, event, payload: check_native_message(settings, partner, event, payload),
            settings.contracts_dir / "examples",
            settings.contracts_dir / "asyncapi.yaml",
            documents,
            opendata=open_data_archive(settings.model_copy(update={"registry_url": self.registry_url})),
        )
        self._console, self.console_port = await _serve(create_app(console), "la console", 60.0)
        self.console_credential, self.console_reader = operator, reader

    def _scraped_by_console(self) -> list[str]:
        """Every service's /metrics, and the gateway's for the webhooks' state on the partner pages."""
        gateway = [f"{self.gateway_url}/metrics"] if self.gateway_url else []
        return [*(s.metrics_url for s in self.running.values()), *gateway]

    def _generated_operator(self) -> OperatorCredential:
        """A credential for this stack's registry only, its password in a file only the developer can read."""
        credential = OperatorCredential.generate()
        self._registry_secret = Path(tempfile.mkdtemp(prefix="passerelle-registre-"))
        self.registry_password_file = self._registry_secret / "operator-password"
        self.registry_password_file.touch(mode=0o600)
        self.registry_password_file.write_text(credential.password.get_secret_value() + "\n", encoding="utf-8")
        return credential

    async def stop(self) -> None:
        if self._console:  # first, so it never scrapes a service going away
            await _shut(self._console)
            self._console = None
            self.console_port = None
            self.console_credential = None
            self.console_reader = None
        for name in list(self.running):
            with contextlib.suppress(Exception):
                await self.remove(name)
        if self._gateway:
            await _shut(self._gateway)
            self._gateway = None
            self.gateway_port = None
        if self.gateway_dir:
            shutil.rmtree(self.gateway_dir, ignore_errors=True)
            self.gateway_dir = None
        if self._registry:
            await _shut(self._registry)
            self._registry = None
        self.registry_credential = None
        if self._registry_secret:
            shutil.rmtree(self._registry_secret, ignore_errors=True)
            self._registry_secret = None
            self.registry_password_file = None
        if self.broker:
            self.broker.close()
            self.broker = None
        if self.cluster:
            await asyncio.to_thread(self.cluster.close)
            self.cluster = None
        if self._ephemeral_keys:
            shutil.rmtree(self._ephemeral_keys, ignore_errors=True)
            self._ephemeral_keys = None

    async def __aenter__(self) -> Stack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# A positionnement I-MILO posts on a session Auvergne-Rhône-Alpes funds (84:…): region-84 receives it.
FIRST_MESSAGE = (
    '{"typeEvenement": "formation.Positionnement", "idPositionnement": "P-premier", '
    '"dossier": {"idDossier": "D-premier", "nomNaissance": "Martin"}, '
    '"structureRattachement": {"codeStructure": "69123S00"}, "session": {"idSession": "84:9"}, '
    '"datePositionnement": "2026-02-02", "dispositif": "PACEA"}'
)


def first_message_commands(gateway_url: str, tokens: Path) -> str:
    """Two commands a person pastes: I-MILO posts a positionnement, then region-84 reads it through the pull API."""
    post = (
        f'curl -s -X POST "{gateway_url}/v1/partners/imilo/messages" '
        f'-H "Authorization: Bearer $(cat {tokens / "imilo.token"})" '
        f"-H 'Content-Type: application/json' --data-binary '{FIRST_MESSAGE}'"
    )
    read = (
        f'curl -s "{gateway_url}/v1/partners/region-84/events?attente=10" '
        f'-H "Authorization: Bearer $(cat {tokens / "region-84.token"})"'
    )
    return f"Premier message par l'API (I-MILO) :\n  {post}\nPuis sa livraison à la Région 84 :\n  {read}"


def print_addresses(stack: Stack, console: Console) -> None:
    table = Table(title="Passerelle en local", show_header=False)
    if stack.cluster:
        kept = f", données dans {stack.data_dir}" if stack.data_dir else ""
        table.add_row("broker (Apache Kafka)", f"{stack.bootstrap}{kept}")
        table.add_row("Kafka, TLS mutuel (certificat client)", stack.cluster.tls_bootstrap)
        table.add_row("autorité de certification", str(stack.cluster.pki.ca_cert))
        table.add_row("mots de passe SCRAM (un par principal)", str(stack.cluster.data_dir / "secrets"))
    elif stack.broker:
        table.add_row("broker (Tansu embarqué, en mémoire, sans authentification)", stack.bootstrap)
    else:
        table.add_row("broker (Kafka)", stack.bootstrap)
    if stack.registry_url:
        table.add_row("registre des contrats", stack.registry_url)
    if stack.registry_credential:
        where = f"mot de passe dans {stack.registry_password_file}" if stack.registry_password_file else "configuré"
        table.add_row("registre, écriture (HTTP Basic)", f"utilisateur {stack.registry_credential.user}, {where}")
    if stack.gateway_url:
        table.add_row("API des partenaires (HTTP)", f"{stack.gateway_url}/v1/partners/<partenaire>/messages")
        table.add_row("lecture des livraisons (HTTP)", f"{stack.gateway_url}/v1/partners/<partenaire>/events")
        table.add_row("jetons d'accès des partenaires (12 h)", f"{stack.gateway_dir}/<partenaire>.token")
        if stack.gateway_dir and any((stack.gateway_dir / "webhooks").glob("*.secret")):
            table.add_row(
                "secrets des webhooks (Standard Webhooks)", f"{stack.gateway_dir}/webhooks/<partenaire>.secret"
            )
    if stack.console_url:
        table.add_row("console de l'opérateur (navigateur)", f"{stack.console_url}/connexion")
    for name, service in stack.running.items():
        table.add_row(f"{name} /metrics", service.metrics_url)
    if stack.settings.audit_public_key_file:
        table.add_row("clé publique d'audit", str(stack.settings.audit_public_key_file))
    console.print(table)
    if stack.console_url and stack.console_credential:
        console.print(f"Console : {stack.console_url}/connexion, {_console_logins(stack)}", soft_wrap=True)
    if stack.gateway_url and stack.gateway_dir:
        console.print(first_message_commands(stack.gateway_url, stack.gateway_dir), soft_wrap=True, markup=False)
    operator = f"PASSERELLE_KAFKA_BOOTSTRAP={stack.bootstrap}"
    if stack.cluster:
        partner, secrets_dir = "region-24", stack.cluster.data_dir / "secrets"
        identity = {k: v for k, v in stack.access.environment().items() if k != "PASSERELLE_KAFKA_PASSWORD"}
        identity["PASSERELLE_KAFKA_PASSWORD_FILE"] = str(secrets_dir / "admin.password")
        operator = " ".join(f"{k}={v}" for k, v in identity.items())
        identity |= {
            "PASSERELLE_KAFKA_USERNAME": partner,
            "PASSERELLE_KAFKA_PASSWORD_FILE": str(secrets_dir / f"{partner}.password"),
        }
        console.print(
            f"Un partenaire se connecte avec son identité, SCRAM-SHA-512 sur TLS (exemple, {partner}) :\n  "
            + " ".join(f"{k}={v}" for k, v in identity.items())
            + f" passerelle tail out.{partner} --from-beginning\n"
            f"  (il ne lit que out.{partner} et feedback.{partner}, n'écrit que in.{partner}, dans des groupes "
            f"« {partner}.* » : docs/security.md)",
            soft_wrap=True,  # one line to copy, however long the paths
        )
    console.print(f"Exemple : {operator} passerelle tail out.imilo --from-beginning", soft_wrap=True)
    if stack.settings.audit_public_key_file:
        console.print(
            f"Audit : {operator} PASSERELLE_AUDIT_PUBLIC_KEY_FILE={stack.settings.audit_public_key_file} "
            "passerelle audit verify",
            soft_wrap=True,
        )


def _console_logins(stack: Stack) -> str:
    """The console's accounts; a password generated for this stack (127.0.0.1, gone at stop) is shown in full."""
    said = []
    for role, account, configured in (
        ("opérateur (peut rejouer)", stack.console_credential, stack.console_operator),
        ("lecture seule", stack.console_reader, stack.console_readonly),
    ):
        if account is not None:
            secret = "mot de passe configuré" if configured else f"mot de passe {account.password.get_secret_value()}"
            said.append(f"{role} : utilisateur {account.user}, {secret}")
    return " ; ".join(said)


async def _serve(
    app: Any, what: str, limit_s: float, trouble: Callable[[], str | None] = lambda: None
) -> tuple[tuple[uvicorn.Server, asyncio.Task[None]], int]:
    """One of the stack's HTTP applications on a free loopback port, once it serves and ``trouble`` says nothing."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", log_config=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(limit_s):
            while not server.started or trouble() is not None:
                if task.done():
                    task.result()
                    raise RuntimeError(f"arrêt au démarrage : {what}")
                await asyncio.sleep(0.05)
    except TimeoutError:
        server.should_exit = True
        raise TimeoutError(f"toujours pas prêt après {limit_s:.0f} s : {what} ({trouble()})") from None
    return (server, task), port


async def _shut(served: tuple[uvicorn.Server, asyncio.Task[None]], what: str = "serveur") -> None:
    """Stop one of the stack's HTTP servers and wait for it, within a bound; its errors at exit are its own.

    A stop that outlasts the bound names the awaits it hung on, then is cancelled: a stack that never stops
    would hold a whole test run, or a developer's terminal, with no word of why."""
    server, task = served
    server.should_exit = True
    done, _ = await asyncio.wait({task}, timeout=_STOP_LIMIT_S)
    if not done:
        log.warning("stack.arret_force", service=what, apres_s=_STOP_LIMIT_S, attente=_awaits_of(task))
        task.cancel()
        await asyncio.wait({task}, timeout=5.0)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it at exit


def _awaits_of(task: asyncio.Task[Any]) -> list[str]:
    """Where a task waits: the chain of coroutines it awaits, innermost last (``Task.get_stack`` stops at one)."""
    chain: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(chain) < 50:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is None:
            chain.append(type(awaited).__name__)
            break
        chain.append(f"{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})")
        awaited = getattr(awaited, "cr_await", None)
    return chain
