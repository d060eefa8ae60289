"""The gateway's parts on their own: the rate limit's bucket, the keys' records, the message ids, the body limits."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.errors import KafkaTimeoutError
from fastapi.testclient import TestClient

from passerelle.runtime.issuer import LocalIssuer
from passerelle.settings import Settings
from passerelle.stack.gateway import build_gateway
from services.gateway.app import create_app
from services.gateway.idempotency import Answer, MemoryAnswers, message_id, piece_id
from services.gateway.intake import Piece
from services.gateway.limits import RateLimits
from services.gateway.publish import MemoryPublisher
from tests.gateway.test_gateway import post_csv, status_csv


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    clock = _Clock()
    limits = RateLimits(rate_per_s=2.0, burst=2, clock=clock)
    assert [limits.take("region-24") for _ in range(2)] == [None, None]
    assert limits.take("region-24") == 0.5
    assert limits.take("region-53") is None  # a bucket per partner
    clock.now += 0.5
    assert limits.take("region-24") is None
    clock.now += 10
    assert [limits.take("region-24") for _ in range(3)] == [None, None, 0.5]  # never more than the burst
    assert RateLimits.retry_after(0.2) == "1" and RateLimits.retry_after(2.1) == "3"


def test_an_answer_is_kept_as_json_and_read_back() -> None:
    answer = Answer("ab" * 32, 202, {"statut": "accepte", "idsEvenements": ["e-1"]})
    assert Answer.decode(answer.encode()) == answer


def test_a_messages_id_derives_from_its_partner_and_key() -> None:
    assert message_id("region-24", "k") == message_id("region-24", "k") != message_id("region-53", "k")
    assert message_id("region-24", None) != message_id("region-24", None)
    assert piece_id("m", 1) != piece_id("m", 2)


def test_a_body_over_the_limit_is_refused(gateway_settings: Settings, issuer: LocalIssuer) -> None:
    settings = gateway_settings.model_copy(update={"gateway_max_body_bytes": 100})
    with TestClient(create_app(build_gateway(settings, MemoryAnswers(), MemoryPublisher()))) as client:
        answer = post_csv(client, issuer, status_csv(10))
    assert answer.status_code == 413 and answer.json()["code"] == "trop_volumineux"


class _BrokerAway:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, pieces: Iterable[Piece]) -> int:
        raise KafkaTimeoutError()


def test_a_broker_away_answers_503_and_keeps_no_key(gateway_settings: Settings, issuer: LocalIssuer) -> None:
    answers = MemoryAnswers()
    with TestClient(create_app(build_gateway(gateway_settings, answers, _BrokerAway()))) as client:
        answer = post_csv(client, issuer, status_csv(1), **{"Idempotency-Key": "k-503"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answers.get("region-53", "k-503") is None  # a retry under the same key publishes (the same ids) again
