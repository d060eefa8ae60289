"""One HTTP server of the ``gateway`` bench, in a process of its own so the load generator never shares its loop.

``--kind gateway``: the partner gateway as deployed (token check, rate limit, the adapter's check, publication on
``in.<partner>``, Idempotency-Keys on the broker), its logs as in production. ``--kind bare``: the same
FastAPI/uvicorn stack and the same producer (``KafkaPublisher``, the gateway's settings), whose one route only
publishes the body. ``--kind receiver``: a webhook receiver that answers ``204`` to every POST and says at
``GET /count`` how many it took (no broker, no token). With ``--profile FILE``, cProfile follows the event loop
and every worker thread (where the gateway checks a body), and their merged statistics are written to FILE when
the server stops.
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
from typing import Literal

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from passerelle.broker import topics
from passerelle.broker.embedded import embedded_settings
from passerelle.logging import configure
from passerelle.settings import Settings
from passerelle.stack.gateway import build_gateway
from services.gateway.app import MESSAGES_ROUTE, create_app
from services.gateway.publish import KafkaPublisher

LOOPBACK = "127.0.0.1"
KINDS = ("gateway", "bare", "receiver")


class Receiver:
    """The webhook bench's receiver, bare ASGI so it costs both deliverers as little as it can: every POST is
    read to its end and answered ``204``; ``GET /count`` says how many were, ``GET /health`` that it is up."""

    def __init__(self) -> None:
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            more = True
            while more:  # the whole body, as a real receiver reads it before answering
                more = (await receive()).get("more_body", False)
            self.received += 1
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = str(self.received).encode() if scope["path"] == "/count" else b"pret"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


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


async def serve(app: FastAPI | Receiver, port: int, profile: Path | None) -> None:
    # The receiver has no lifespan to run: "off" spares uvicorn asking it.
    lifespan: Literal["auto", "off"] = "off" if isinstance(app, Receiver) else "auto"
    config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
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
    parser.add_argument("--bootstrap", required=True, help="the embedded broker (unused by the receiver)")
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
    app: FastAPI | Receiver
    if args.kind == "receiver":
        app = Receiver()
    else:
        app = create_app(build_gateway(settings)) if args.kind == "gateway" else bare_app(settings)
    asyncio.run(serve(app, args.port, args.profile))


if __name__ == "__main__":
    main()
