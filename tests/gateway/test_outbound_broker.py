"""The outbound half over the real stack: webhooks signed and delivered once each through a receiver's outage, and
the pull API's acknowledged cursor, which a new client (and a new reader) resumes from."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response

from passerelle.broker.embedded import LOOPBACK
from passerelle.broker.pki import IssuedCertificate, LocalCA
from passerelle.core.partners import PartnerProfile, Profiles, Webhook
from passerelle.stack.gateway import build_gateway
from passerelle.stack.local import Stack
from services.gateway.app import Gateway, create_app
from services.gateway.cursor import Cursor
from services.gateway.delivery import Destination, HttpSender
from services.gateway.events import KafkaEvents
from services.gateway.webhooks import RetryPolicy, new_secret
from tests.e2e.traffic import positionnement
from tests.gateway.test_gateway import STATUS
from tests.gateway.test_gateway import statuses_csv as all_statuses_csv
from tests.gateway.test_gateway_broker import _token

pytestmark = pytest.mark.broker

REGION = "region-24"
FAST = RetryPolicy(first_s=0.1, cap_s=0.5, paused_probe_s=0.5)


def reference_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """What a receiver following Standard Webhooks computes to check the signature."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return (
        "v1,"
        + base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    )


@dataclass
class Receiver:
    """A Region's webhook receiver on loopback: answers 2xx while ``up``, 503 otherwise, and notes every call."""

    secret: str
    tls: IssuedCertificate
    up: bool = True
    calls: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0
    _served: tuple[uvicorn.Server, asyncio.Task[None]] | None = None

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/passerelle"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/passerelle")
        async def receive(request: Request) -> Response:
            status = 204 if self.up else 503
            self.calls.append((status, dict(request.headers), await request.body()))
            return Response(status_code=status, headers={} if self.up else {"Retry-After": "1"})

        return app

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(self.tls.cert),
            ssl_keyfile=str(self.tls.key),
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.02)
        self._served = (server, task)

    async def stop(self) -> None:
        """Gone: connections refused until ``start`` again, on the same port."""
        if self._served is not None:
            server, task = self._served
            server.should_exit = True
            await task
            self._served = None

    def delivered(self, marker: str) -> list[dict[str, str]]:
        """The headers of each 2xx call whose body names ``marker``."""
        return [headers for status, headers, body in self.calls if status < 300 and marker.encode() in body]


async def eventually(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"toujours pas après {timeout_s:.0f} s : {what}") from None


@pytest.fixture
def authority(tmp_path: Path) -> LocalCA:
    return LocalCA.create(tmp_path / "ac")


@pytest.fixture
async def receiver(authority: LocalCA) -> AsyncIterator[Receiver]:
    """The Region's receiver over HTTPS, its certificate for 127.0.0.1 signed by the test's own authority."""
    running = Receiver(new_secret(), authority.issue_server("recepteur", dns_names=[], ip_addresses=[LOOPBACK]))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


Pusher = Callable[[], contextlib.AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def replica(stack: Stack, receiver: Receiver, authority: LocalCA, tmp_path: Path) -> Pusher:
    """Starts a gateway replica on the stack's broker whose region-24 profile names the test's receiver."""
    secrets = tmp_path / "webhooks"
    secrets.mkdir()
    (secrets / f"{REGION}.secret").write_text(receiver.secret + "\n", encoding="utf-8")
    loaded = Profiles.load(stack.settings.contracts_dir / "partners")
    own: dict[str, PartnerProfile] = {p.id: p for p in loaded}
    own[REGION] = own[REGION].model_copy(update={"webhook": Webhook(url=receiver.url)})

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[Gateway]:
        gateway = build_gateway(stack.settings, profiles=Profiles(own), webhook_secrets=secrets)
        assert gateway.webhooks is not None and [d.partner for d in gateway.webhooks.deliveries] == [REGION]
        # The receiver's authority trusted, as a partner's public one would be by the system's.
        gateway.webhooks.sender = HttpSender(verify=ssl.create_default_context(cafile=str(authority.cert_path)))
        for delivery in gateway.webhooks.deliveries:
            delivery.policy = FAST
            delivery.sender = gateway.webhooks.sender
        app = create_app(gateway)
        async with app.router.lifespan_context(app):
            yield gateway

    return running


@pytest.fixture
async def pusher(replica: Pusher) -> AsyncIterator[Gateway]:
    async with replica() as gateway:
        yield gateway


async def post_positionnements(stack: Stack, markers: list[str]) -> None:
    assert stack.gateway_url is not None
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        for marker in markers:
            answer = await client.post(
                "/v1/partners/imilo/messages",
                content=positionnement(marker),
                headers={**_token(stack, "imilo"), "Content-Type": "application/json"},
            )
            assert answer.status_code == 202, answer.text


def metric(gateway: Gateway, name: str, **labels: str) -> float:
    return gateway.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_positionnement_reaches_the_regions_webhook_signed(
    stack: Stack, pusher: Gateway, receiver: Receiver
) -> None:
    marker = uuid.uuid4().hex[:10]
    await post_positionnements(stack, [marker])
    await eventually(lambda: bool(receiver.delivered(f"P-{marker}")), 90, "livraison au webhook")
    [headers] = receiver.delivered(f"P-{marker}")
    body = next(b for s, h, b in receiver.calls if h is headers)
    assert headers["webhook-signature"] == reference_signature(
        receiver.secret, headers["webhook-id"], headers["webhook-timestamp"], body
    )
    assert headers["webhook-id"] == f"msg_{headers['ce-id']}"
    assert headers["ce-type"].endswith(".formation.Positionnement") and headers["content-type"].startswith(
        "application/json"
    )
    assert metric(pusher, "passerelle_gateway_webhook_deliveries_total", partner=REGION, flow="out") >= 1


async def test_a_receiver_down_then_gone_then_back_loses_nothing_and_repeats_no_id(
    stack: Stack, pusher: Gateway, receiver: Receiver
) -> None:
    markers = [uuid.uuid4().hex[:10] for _ in range(9)]
    await post_positionnements(stack, markers[:3])
    await eventually(lambda: all(receiver.delivered(f"P-{m}") for m in markers[:3]), 90, "premières livraisons")

    receiver.up = False  # answers 503
    await post_positionnements(stack, markers[3:6])
    await eventually(lambda: any(s == 503 for s, _, _ in receiver.calls), 60, "un refus du récepteur")
    await receiver.stop()  # then gone: connections refused
    await post_positionnements(stack, markers[6:])
    await eventually(
        lambda: metric(pusher, "passerelle_gateway_webhook_failures_total", partner=REGION, reason="reseau") > 0,
        60,
        "un échec réseau",
    )
    assert metric(pusher, "passerelle_gateway_webhook_failing_seconds", partner=REGION) > 0
    await eventually(
        lambda: (
            metric(pusher, "passerelle_gateway_webhook_backlog_messages", partner=REGION) >= 3
            and metric(pusher, "passerelle_gateway_webhook_backlog_age_seconds", partner=REGION) > 0
        ),
        30,
        "le retard et son âge",
    )
    receiver.up = True
    await receiver.start()

    await eventually(lambda: all(receiver.delivered(f"P-{m}") for m in markers), 120, "tout livré au retour")
    await asyncio.sleep(1.0)  # time for a duplicate to show
    ids = [h["webhook-id"] for s, h, _ in receiver.calls if s < 300]
    assert len(ids) == len(set(ids)), "un webhook-id livré deux fois"
    assert all(len(receiver.delivered(f"P-{m}")) == 1 for m in markers)
    assert metric(pusher, "passerelle_gateway_webhook_retries_total", partner=REGION) > 0
    assert metric(pusher, "passerelle_gateway_webhook_paused", partner=REGION) == 0
    await eventually(
        lambda: (
            metric(pusher, "passerelle_gateway_webhook_failing_seconds", partner=REGION) == 0
            and metric(pusher, "passerelle_gateway_webhook_backlog_messages", partner=REGION) == 0
            and metric(pusher, "passerelle_gateway_webhook_backlog_age_seconds", partner=REGION) == 0
        ),
        30,
        "rétabli, plus rien en attente",
    )


async def test_past_the_outage_its_profile_allows_a_partner_pauses_then_resumes_in_order(
    stack: Stack, pusher: Gateway, receiver: Receiver
) -> None:
    assert pusher.webhooks is not None
    [delivery] = pusher.webhooks.deliveries
    delivery.destination = Destination(REGION, receiver.url, receiver.secret, outage_allowed_s=1.0)
    warm = uuid.uuid4().hex[:10]
    await post_positionnements(stack, [warm])
    await eventually(lambda: bool(receiver.delivered(f"P-{warm}")), 90, "livraison avant la panne")
    receiver.up = False
    markers = [uuid.uuid4().hex[:10] for _ in range(3)]
    await post_positionnements(stack, markers)
    await eventually(
        lambda: metric(pusher, "passerelle_gateway_webhook_paused", partner=REGION) == 1, 60, "livraison suspendue"
    )
    assert not any(receiver.delivered(f"P-{m}") for m in markers)  # nothing skipped past the failing record
    receiver.up = True
    await eventually(lambda: all(receiver.delivered(f"P-{m}") for m in markers), 60, "reprise après la pause")
    await eventually(lambda: metric(pusher, "passerelle_gateway_webhook_paused", partner=REGION) == 0, 10, "reprise")


async def test_a_gateway_restarted_during_an_outage_delivers_what_it_had_not_once_the_receiver_is_back(
    stack: Stack, replica: Pusher, receiver: Receiver
) -> None:
    async with replica() as first:
        warm = uuid.uuid4().hex[:10]
        await post_positionnements(stack, [warm])
        await eventually(lambda: bool(receiver.delivered(f"P-{warm}")), 90, "livraison avant la panne")
        receiver.up = False
        markers = [uuid.uuid4().hex[:10] for _ in range(4)]
        await post_positionnements(stack, markers)
        await eventually(
            lambda: metric(first, "passerelle_gateway_webhook_failures_total", partner=REGION, reason="503") >= 2,
            60,
            "des refus",
        )
    # The first replica is gone without a 2xx for these: a second one starts from the committed offsets.
    receiver.up = True
    async with replica():
        await eventually(lambda: all(receiver.delivered(f"P-{m}") for m in markers), 90, "livré par la relève")
        await asyncio.sleep(1.0)
    assert len(receiver.delivered(f"P-{warm}")) == 1 and all(len(receiver.delivered(f"P-{m}")) == 1 for m in markers)
    ids = [h["webhook-id"] for s, h, _ in receiver.calls if s < 300]
    assert len(ids) == len(set(ids)), "un webhook-id livré deux fois"


def statuses_csv(ids: list[str]) -> bytes:
    """Region-53's export of one status change per ``ids``, all on the same day."""
    return all_statuses_csv(ids, lambda _n: dt.date(2026, 3, 2))


async def post_status(stack: Stack, marker: str) -> str:
    assert stack.gateway_url is not None
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        answer = await client.post(
            "/v1/partners/region-53/messages",
            params={"event": STATUS},
            content=statuses_csv([marker]),
            headers={**_token(stack, "region-53"), "Content-Type": "text/csv"},
        )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["idMessage"])


async def read_until(
    client: httpx.AsyncClient, stack: Stack, wanted: str, after: str | None = None, seen: list[Any] | None = None
) -> dict[str, Any]:
    """Pages of imilo's events from ``after`` (else its acknowledged cursor) until the one caused by ``wanted``."""
    seen = seen if seen is not None else []
    async with asyncio.timeout(90):
        while True:
            params: dict[str, Any] = {"limit": 200, "attente": 2}
            if after is not None:
                params["after"] = after
            page = await client.get("/v1/partners/imilo/events", params=params, headers=_token(stack, "imilo"))
            assert page.status_code == 200, page.text
            body = page.json()
            seen.extend(body["evenements"])
            found = [e for e in body["evenements"] if e["idCorrelation"] == wanted]
            if found:
                return found[0]
            after = body["curseur"]


async def to_the_end(client: httpx.AsyncClient, stack: Stack) -> str:
    """The cursor past every event imilo has now."""
    end: str | None = None
    async with asyncio.timeout(120):
        while True:
            params: dict[str, str | int] = {"limit": 500} if end is None else {"limit": 500, "after": end}
            response = await client.get("/v1/partners/imilo/events", params=params, headers=_token(stack, "imilo"))
            assert response.status_code == 200, response.text
            page = response.json()
            end = page["curseur"]
            if page["nombre"] == 0:
                return str(end)


async def test_a_status_posted_by_a_region_is_pulled_by_imilo_and_an_ack_survives_a_crash(stack: Stack) -> None:
    assert stack.gateway_url is not None
    first = await post_status(stack, uuid.uuid4().hex[:10])
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        event = await read_until(client, stack, first)
        assert event["type"].endswith(f".{STATUS}") and event["flux"] == "out" and event["encodage"] == "texte"
        acked = await client.post(
            "/v1/partners/imilo/events/ack", json={"curseur": event["curseur"]}, headers=_token(stack, "imilo")
        )
        assert acked.status_code == 200, acked.text
        second = await post_status(stack, uuid.uuid4().hex[:10])
        await read_until(client, stack, second, after=event["curseur"])  # read, never acknowledged: then a crash

    reread: list[Any] = []
    async with httpx.AsyncClient(base_url=stack.gateway_url) as fresh:  # a new client, from the acknowledged cursor
        await read_until(fresh, stack, second, seen=reread)
    assert first not in {e["idCorrelation"] for e in reread}

    # The acknowledged cursor is the broker's: a new reader (a restarted gateway) knows it.
    again = KafkaEvents(stack.settings)
    try:
        acknowledged = await again.acknowledged("imilo")
    finally:
        await again.stop()
    assert Cursor.decode(event["curseur"], ("out.imilo", "feedback.imilo")).positions.items() <= (
        acknowledged.positions.items()
    )


async def test_a_long_poll_waits_for_the_next_event_and_a_cursor_past_the_end_does_not_rewind(stack: Stack) -> None:
    assert stack.gateway_url is not None
    url, auth = "/v1/partners/imilo/events", _token(stack, "imilo")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
        end = await to_the_end(client, stack)
        async with asyncio.timeout(120):
            while True:  # nothing more to read: the request waits its whole attente (a late record starts again)
                started = time.monotonic()
                answer = await client.get(url, params={"after": end, "attente": 1}, headers=auth)
                assert answer.status_code == 200, answer.text
                idle = answer.json()
                if idle["nombre"] == 0:
                    break
                end = idle["curseur"]
        assert idle["curseur"] == end and time.monotonic() - started >= 0.9

        own = ("out.imilo", "feedback.imilo")
        far = Cursor(dict.fromkeys(Cursor.decode(end, own).positions, 10**12))
        beyond = (await client.get(url, params={"after": far.encode()}, headers=auth)).json()
        brought_back = Cursor.decode(beyond["curseur"], own).positions
        assert beyond["nombre"] == 0  # brought back to the end, not sent to the start
        assert all(
            end_at <= brought_back[place] < 10**12 for place, end_at in Cursor.decode(end, own).positions.items()
        )

        waiting = asyncio.create_task(client.get(url, params={"after": end, "attente": 25}, headers=auth))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        started = time.monotonic()
        marker = await post_status(stack, uuid.uuid4().hex[:10])
        answer = (await waiting).json()
        assert time.monotonic() - started < 20 and answer["nombre"] >= 1
        if marker not in {e["idCorrelation"] for e in answer["evenements"]}:  # a late record of another test first
            await read_until(client, stack, marker, after=answer["curseur"])


async def test_a_cursor_past_a_batch_of_several_records_is_acknowledged_and_read_from_where_it_is(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    """The embedded broker's ListOffsets falls short after a batch of several records: the cursor still holds."""
    assert stack.gateway_url is not None
    marker = uuid.uuid4().hex[:10]
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
        end = await to_the_end(client, stack)
        sent = [
            await producer.send(
                "feedback.imilo", b"{}", partition=0, headers=[("correlation_id", f"{marker}-{n}".encode())]
            )
            for n in range(3)
        ]
        await asyncio.gather(*sent)  # one batch of three
        seen: list[Any] = []
        await read_until(client, stack, f"{marker}-2", after=end, seen=seen)
        last = Cursor.decode(seen[-1]["curseur"], ("out.imilo", "feedback.imilo"))
        acked = await client.post(
            "/v1/partners/imilo/events/ack", json={"curseur": seen[-1]["curseur"]}, headers=_token(stack, "imilo")
        )
        assert acked.status_code == 200, acked.text
        again = await client.get(
            "/v1/partners/imilo/events",
            params={"after": seen[-1]["curseur"], "attente": 1},
            headers=_token(stack, "imilo"),
        )
        assert [
            e["idCorrelation"] for e in again.json()["evenements"] if (e["idCorrelation"] or "").startswith(marker)
        ] == []
    reader = KafkaEvents(stack.settings)
    try:
        assert (await reader.acknowledged("imilo")).positions[("feedback.imilo", 0)] == last.positions[
            ("feedback.imilo", 0)
        ]
    finally:
        await reader.stop()


async def test_the_pull_routes_refuse_a_wrong_a_foreign_and_an_expired_token(stack: Stack) -> None:
    assert stack.gateway_url is not None and stack.issuer is not None
    issuer = stack.issuer
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"Authorization": "Bearer pas-un-jeton"}, 401, "jeton_refuse"),
        ({"Authorization": f"Bearer {issuer.mint('imilo', now=0)}"}, 401, "jeton_expire"),
        (_token(stack, "region-24"), 403, "lecture_interdite"),
        ({}, 401, "jeton_absent"),
    ]
    calls: list[Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]] = [
        lambda c, h: c.get("/v1/partners/imilo/events", headers=h),
        lambda c, h: c.post("/v1/partners/imilo/events/ack", json={"curseur": "c1.e30"}, headers=h),
    ]
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        for call in calls:
            for headers, status, code in cases:
                answer = await call(client, headers)
                assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
        foreign = await client.get(
            "/v1/partners/region-24/events", params={"limit": 1}, headers=_token(stack, "region-24")
        )
        assert foreign.status_code == 200
        stolen = await client.get(
            "/v1/partners/imilo/events", params={"after": foreign.json()["curseur"]}, headers=_token(stack, "imilo")
        )
        assert (stolen.status_code, stolen.json()["code"]) == (400, "curseur_invalide")
