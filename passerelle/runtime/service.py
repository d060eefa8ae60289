"""A running service: its hops, its /metrics and /health endpoints, and a clean start and stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.admin import ensure_topics
from passerelle.runtime.collector import tune_collector
from passerelle.runtime.context import ServiceContext
from passerelle.runtime.hop import Hop

log = structlog.get_logger("passerelle.service")
TOPICS_CHECK_S = 10.0


@dataclass
class ServiceRuntime:
    """What ``passerelle service run`` starts: one or more hops plus optional background work."""

    ctx: ServiceContext
    hops: Sequence[Hop]
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    on_stop: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    before_start: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    # Named on-demand actions (e.g. the indicators service's "publier"), for the demo and operators.
    actions: Mapping[str, Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.ctx.service

    @property
    def ready(self) -> bool:
        return all(h.healthy for h in self.hops)

    @property
    def trouble(self) -> str | None:
        """Why the service cannot make progress, in French; None when every hop can."""
        for hop in self.hops:
            why = hop.why_not_healthy
            if why:
                return why
        return None

    async def start(self) -> None:
        settings = self.ctx.settings
        if settings.create_topics and settings.kafka_bootstrap:
            specs = topics.all_topics(self.ctx.profiles.ids, self.ctx.catalogue.subjects)
            await ensure_topics(KafkaAccess.of(settings), specs, with_configs=settings.topic_configs)
        await self.ctx.bind_registry()
        for job in self.before_start:
            await job()
        tune_collector(settings.gc_young_threshold)
        for hop in self.hops:
            await hop.start()
        jobs = [*self.background]
        if settings.create_topics and settings.kafka_bootstrap:
            jobs.append(self._keep_topics)
        self._tasks = [asyncio.create_task(job()) for job in jobs]
        log.info("service.demarre", service=self.name)

    async def _keep_topics(self) -> None:
        """A broker restarted empty (the embedded one keeps topics in memory) gets its topics back."""
        settings = self.ctx.settings
        access = KafkaAccess.of(settings)
        specs = topics.all_topics(self.ctx.profiles.ids, self.ctx.catalogue.subjects)
        while True:
            await asyncio.sleep(TOPICS_CHECK_S)
            try:
                async with asyncio.timeout(TOPICS_CHECK_S):
                    created = await ensure_topics(access, specs, with_configs=settings.topic_configs)
            except (KafkaError, OSError, TimeoutError):
                continue  # the broker is away: the hops report it on /health
            if created:
                log.warning("service.topics_recrees", service=self.name, nombre=len(created))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for hop in self.hops:
            await hop.stop()
        for job in self.on_stop:
            await job()
        log.info("service.arrete", service=self.name)

    def http_app(self) -> FastAPI:
        """``/metrics`` for Prometheus, ``/health`` ready only once every consumer has its partitions, ``/live``
        failing only for what a restart mends."""

        @contextlib.asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(title=f"passerelle {self.name}", lifespan=lifespan, docs_url=None, redoc_url=None)

        @app.get("/metrics")
        def metrics() -> Response:
            return Response(generate_latest(self.ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/health")
        def health() -> Response:
            trouble = self.trouble
            if trouble is None:
                return Response(b'{"statut":"pret"}', media_type="application/json")
            status = "demarrage" if trouble == "demarrage" else "indisponible"
            body = orjson.dumps({"statut": status, "raison": trouble})
            return Response(body, status_code=503, media_type="application/json")

        @app.get("/live")
        def live() -> Response:
            """For a liveness probe: 503 only for what a restart mends, never for a broker that is away."""
            dead = next((why for why in (hop.why_dead for hop in self.hops) if why), None)
            if dead is None:
                return Response(b'{"statut":"vivant"}', media_type="application/json")
            return Response(
                orjson.dumps({"statut": "a_redemarrer", "raison": dead}), 503, media_type="application/json"
            )

        return app


def http_server(runtime: ServiceRuntime, host: str, port: int) -> uvicorn.Server:
    # log_config=None: uvicorn logs through the handler configure() set, in the same format as every line.
    config = uvicorn.Config(
        runtime.http_app(), host=host, port=port, log_level="warning", lifespan="on", log_config=None
    )
    return uvicorn.Server(config)
