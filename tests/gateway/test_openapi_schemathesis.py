"""Schemathesis against the gateway it describes: generated requests, a valid token, no 5xx, every answer documented.

The app runs in-process (ASGI) with its keys in memory and what it publishes kept, as in ``conftest.py``. The
document is the one the app serves at ``/openapi.json``. Each partner posts in its own dialects with its own token,
so the requests reach the adapters' checks; the generation is derandomised and bounded: the same cases each run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from passerelle.runtime.issuer import LocalIssuer
from services.gateway.app import MESSAGES_ROUTE, Gateway, create_app
from services.gateway.cursor import Cursor
from services.gateway.events import MAX_WAIT_S, MemoryEvents, Page
from services.gateway.intake import CSV, JSON, XML
from services.gateway.pull import ACK_ROUTE, EVENTS_ROUTE

CHECKS: list[Any] = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
# Who posts what: each dialect a profile publishes, with that partner's Content-Type.
POSTERS = (("imilo", JSON), ("region-24", JSON), ("region-53", CSV), ("region-24", XML))
EXAMPLES = 100  # per generation mode: a few seconds, well under a minute on the project's two cores
# Reproducible runs of the schema's own cases then generated ones, without a deadline on the slower routes.
_FUZZED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _run(gateway: Gateway, issuer: LocalIssuer, mode: GenerationMode) -> list[int]:
    """Every generated case posted and checked; the statuses seen, in order."""
    app = create_app(gateway)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[MESSAGES_ROUTE]["POST"]
    cases = st.one_of(
        [
            operation.as_strategy(
                mode,
                path_parameters={"partner": partner},
                headers={"Authorization": f"Bearer {issuer.mint(partner)}"},
                media_type=media,
            )
            for partner, media in POSTERS
        ]
    )
    seen: list[int] = []

    @_FUZZED
    @given(case=cases)
    def post(case: Case) -> None:
        response = case.call_and_validate(checks=CHECKS)
        seen.append(response.status_code)

    post()
    return seen


@pytest.fixture
def run(gateway: Gateway, issuer: LocalIssuer) -> Callable[[GenerationMode], list[int]]:
    return lambda mode: _run(gateway, issuer, mode)


def test_generated_posts_get_documented_answers_and_never_a_server_error(
    run: Callable[[GenerationMode], list[int]],
) -> None:
    seen = run(GenerationMode.POSITIVE)
    assert len(seen) >= EXAMPLES // 2
    # Not only refusals: the generated bodies reach the adapters' checks (a 422 with field errors at least).
    assert 422 in seen, sorted(set(seen))


def test_malformed_posts_are_refused_with_documented_answers(run: Callable[[GenerationMode], list[int]]) -> None:
    seen = run(GenerationMode.NEGATIVE)
    # A bad Idempotency-Key is a 400, a body off its schema a 422. Unknown query parameters, which Schemathesis
    # also counts as malformed, are ignored: such a post may still be accepted, with a documented 202.
    assert {400, 422} <= set(seen), sorted(set(seen))


# The pull routes, on the in-memory event source: no broker, the same answers.
READERS = ("imilo", "region-24")
# Cursors no reader was given: a partition in digits int() does not read, an offset past any log, a bare prefix.
FORGED = ("c1.eyJvdXQuaW1pbG8iOnsiXHUwMGIyIjoxfX0", "c1.eyJvdXQuaW1pbG8iOnsiMCI6MTAwMDAwMDAwMDAwMDB9fQ", "c1.")


@dataclass
class WatchedEvents(MemoryEvents):
    """The in-memory source, noting each wait it is asked for: whatever the query, a read waits 0..MAX_WAIT_S."""

    waits: list[float] = field(default_factory=list)

    async def read(self, partner: str, after: Cursor | None, limit: int, wait_s: float) -> Page:
        self.waits.append(wait_s)
        return await super().read(partner, after, limit, wait_s)


def _events(gateway: Gateway) -> WatchedEvents:
    events = gateway.events = WatchedEvents()
    for partner in READERS:
        events.records[partner] = [
            (f"out.{partner}", {"ce_id": f"e-{n}", "ce_type": "fr.passerelle.formation.StatutCandidature"}, b"{}")
            for n in range(3)
        ] + [(f"feedback.{partner}", {"ce_id": "f-0", "content-type": "text/csv"}, "ligne 4 ; é".encode("latin-1"))]
    return events


def _pull(gateway: Gateway, issuer: LocalIssuer, mode: GenerationMode) -> list[tuple[str, int]]:
    """Generated reads and acknowledgements, each reader with its own token; the (method, status) seen, in order.
    Every wait the reads asked the source for is checked at the end."""
    events = _events(gateway)
    app = create_app(gateway)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    read, ack = schema[EVENTS_ROUTE]["GET"], schema[ACK_ROUTE]["POST"]
    strategies = []
    edges: list[Case] = []
    for partner in READERS:
        auth = {"Authorization": f"Bearer {issuer.mint(partner)}"}
        where = {"partner": partner}
        strategies += [
            read.as_strategy(mode, path_parameters=where, headers=auth),
            ack.as_strategy(mode, path_parameters=where, headers=auth),
        ]
        if mode is not GenerationMode.POSITIVE:
            continue
        # Cursors the gateway gave, so the generated reads and acknowledgements also take the paths that succeed.
        own = [Cursor({(f"out.{partner}", 0): n, (f"feedback.{partner}", 0): 0}).encode() for n in (0, 2)]
        strategies += [read.as_strategy(mode, path_parameters=where, headers=auth, query={"after": c}) for c in own]
        strategies += [ack.as_strategy(mode, path_parameters=where, headers=auth, body={"curseur": c}) for c in own]
        # Values the schema allows that the generation seldom tries, each sent once: forged cursors, NaN and ∞.
        queries = [*({"after": c} for c in FORGED), {"attente": "nan"}, {"attente": "inf"}]
        edges += [read.Case(path_parameters=where, headers=auth, query=query) for query in queries]
        edges += [ack.Case(path_parameters=where, headers=auth, body={"curseur": c}) for c in FORGED]
    seen: list[tuple[str, int]] = []

    @_FUZZED
    @given(case=st.one_of(strategies))
    def call(case: Case) -> None:
        response = case.call_and_validate(checks=CHECKS)
        seen.append((case.method, response.status_code))

    seen.extend((edge.method, edge.call_and_validate(checks=CHECKS).status_code) for edge in edges)
    call()
    assert all(0.0 <= wait <= MAX_WAIT_S for wait in events.waits), sorted(set(events.waits))
    return seen


@pytest.fixture
def pull(gateway: Gateway, issuer: LocalIssuer) -> Callable[[GenerationMode], list[tuple[str, int]]]:
    return lambda mode: _pull(gateway, issuer, mode)


def test_generated_reads_and_acknowledgements_get_documented_answers(
    pull: Callable[[GenerationMode], list[tuple[str, int]]],
) -> None:
    seen = pull(GenerationMode.POSITIVE)
    assert len(seen) >= EXAMPLES // 2
    # Both routes reached, and not only refusals: pages read and cursors acknowledged (200), forged cursors (400).
    assert {("GET", 200), ("POST", 200), ("GET", 400), ("POST", 400)} <= set(seen), sorted(set(seen))


def test_malformed_reads_and_acknowledgements_are_refused_with_documented_answers(
    pull: Callable[[GenerationMode], list[tuple[str, int]]],
) -> None:
    seen = pull(GenerationMode.NEGATIVE)
    # A limit or a wait that is not a number is a 422 (FastAPI's), an acknowledgement that is not {"curseur": …} a 400.
    assert {("GET", 422), ("POST", 400)} <= set(seen), sorted(set(seen))
