"""One HTTP server of the ``gateway`` bench, in a process of its own so the load generator never shares its loop.

``--kind gateway``: the partner gateway as deployed (token check, rate limit, the adapter's check, publication on
``in.<partner>``, Idempotency-Keys on the broker), its logs as in production. ``--kind bare``: the same
FastAPI/uvicorn stack and the same producer (``KafkaPublisher``, the gateway's settings), whose one route only
publishes the body. With ``--profile FILE``, cProfile follows the event loop and every worker thread (where the
gateway checks a body), and their merged statistics are written to FILE when the server stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from passerelle.broker import topics
from passerelle.broker.embedded import embedded_settings
from passerelle.logging import configure
from passerelle.settings import Settings
from passerelle.stack.gateway import build_gateway
from services.gateway.app import MESSAGES_ROUTE, create_app
from services.gateway.publish import KafkaPublisher

LOOPBACK = "127.0.0.1"
KINDS = ("gateway", "bare")


def bare_app(settings: Settings) -> FastAPI:
    """The baseline: a FastAPI route that publishes the body it is given, acknowledged, and answers 202."""
    publisher = KafkaPublisher(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post(MESSAGES_ROUTE)
    async def post(request: Request, partner: str) -> Response:
        await publisher.publish(topics.inbound(partner), [(await request.body(), [])])
        return JSONResponse({"statut": "accepte"}, status_code=202)

    @app.get("/health")
    def health() -> JSONResponse:
        return JSONResponse({"statut": "pret"})

    return app


async def serve(app: FastAPI, port: int, profile: Path | None) -> None:
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", access_log=False))
    if profile is None:
        await server.serve()
        return
    profilers: list[cProfile.Profile] = []

    def follow() -> None:  # each worker thread of the default executor profiles itself
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(initializer=follow))
    loop_profiler = cProfile.Profile()
    loop_profiler.enable()
    try:
        await server.serve()
    finally:
        loop_profiler.disable()
        stats = pstats.Stats(loop_profiler)
        for profiler in profilers:
            profiler.disable()
            stats.add(profiler)
        stats.dump_stats(str(profile))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_server", description=__doc__)
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", default="http://issuer.bench")
    parser.add_argument("--audience", default="passerelle-gateway")
    parser.add_argument("--jwks", help="file:// URL of the local issuer's keys (gateway only)")
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    base = Settings(
        log_format="json",
        gateway_issuer=args.issuer,
        gateway_audience=args.audience,
        gateway_jwks_url=args.jwks,
        # The bench measures throughput, not the per-partner limit: no request may wait for its bucket.
        gateway_rate_per_s=1e9,
        gateway_burst=1_000_000_000,
    )
    settings = embedded_settings(base, args.bootstrap)
    configure(settings.log_format, settings.log_level)
    app = create_app(build_gateway(settings)) if args.kind == "gateway" else bare_app(settings)
    asyncio.run(serve(app, args.port, args.profile))


if __name__ == "__main__":
    main()
