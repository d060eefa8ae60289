"""The registry keeps its schemas in the broker: restarted or doubled, it serves the same ids.

Each test runs registry replicas on a topic of its own, as ``passerelle registry serve`` runs them: every
replica reads the whole topic, writers take turns through the registry's transactional id.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient

from passerelle.broker.clients import consumer_config
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.settings import Settings
from services.registry.app import create_app, journal_of
from services.registry.auth import OperatorCredential

pytestmark = pytest.mark.broker

SUBJECT = "partenaire.Essai-value"
MEDIA = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def _schema(*extra: str) -> dict[str, str]:
    fields: list[dict[str, Any]] = [{"name": "id", "type": "string"}]
    fields += [{"name": name, "type": ["null", "string"], "default": None} for name in extra]
    return {"schema": json.dumps({"type": "record", "name": "Essai", "namespace": "partenaire", "fields": fields})}


@contextmanager
def replica(settings: Settings, catalogue: Catalogue, operator: OperatorCredential, topic: str) -> Iterator[TestClient]:
    app = create_app(catalogue, operator, journal_of(settings, catalogue, topic))
    with TestClient(app, headers=MEDIA) as client:
        client.auth = (operator.user, operator.password.get_secret_value())
        deadline = time.monotonic() + 90
        while (health := client.get("/health")).status_code != 200:
            assert time.monotonic() < deadline, health.json()
            time.sleep(0.1)
        yield client


def _holdings(client: TestClient) -> dict[str, Any]:
    """Everything a client can see of the registry: subjects, versions and ids (deleted ones too), levels."""
    seen: dict[str, Any] = {"config": client.get("/config").json(), "mode": client.get("/mode").json()}
    for subject in client.get("/subjects", params={"deleted": True}).json():
        versions = client.get(f"/subjects/{subject}/versions", params={"deleted": True}).json()
        live = client.get(f"/subjects/{subject}/versions").json() if subject in client.get("/subjects").json() else []
        seen[subject] = {"versions": versions, "live": live}
        seen[subject]["ids"] = [client.get(f"/subjects/{subject}/versions/{v}").json().get("id") for v in live]
    return seen


@pytest.fixture
def topic() -> str:
    return f"_schemas.essai-{uuid.uuid4().hex[:8]}"


def test_a_restarted_registry_and_a_second_replica_serve_every_id_registered(
    kafka_settings: Settings, catalogue: Catalogue, operator: OperatorCredential, topic: str
) -> None:
    with replica(kafka_settings, catalogue, operator, topic) as first:
        ids = [first.post(f"/subjects/{SUBJECT}/versions", json=_schema(*f)).json()["id"] for f in ((), ("a",))]
        assert len(set(ids)) == 2
        assert first.post("/subjects/autre-value/versions", json=_schema("b")).status_code == 200
        assert first.put(f"/config/{SUBJECT}", json={"compatibility": "BACKWARD"}).status_code == 200
        assert first.delete("/subjects/autre-value/versions/1").json() == 1
        before = _holdings(first)
    assert before[SUBJECT]["ids"] == ids and before["autre-value"]["live"] == []

    with replica(kafka_settings, catalogue, operator, topic) as restarted:
        assert _holdings(restarted) == before
        assert restarted.get(f"/schemas/ids/{ids[1]}/versions").json() == [{"subject": SUBJECT, "version": 2}]
        with replica(kafka_settings, catalogue, operator, topic) as second:
            assert _holdings(second) == before
            third = second.post(f"/subjects/{SUBJECT}/versions", json=_schema("a", "c")).json()["id"]
            deadline = time.monotonic() + 30
            while restarted.get(f"/subjects/{SUBJECT}/versions/latest").json()["version"] != 3:
                assert time.monotonic() < deadline, "the first replica never read the second's registration"
                time.sleep(0.1)
            assert restarted.get(f"/subjects/{SUBJECT}/versions/3").json()["id"] == third
            assert _holdings(restarted) == _holdings(second)


def test_two_replicas_writing_at_once_give_each_schema_its_own_version(
    kafka_settings: Settings, catalogue: Catalogue, operator: OperatorCredential, topic: str
) -> None:
    with (
        replica(kafka_settings, catalogue, operator, topic) as one,
        replica(kafka_settings, catalogue, operator, topic) as other,
    ):
        answers: dict[str, int] = {}
        failures: list[str] = []

        def register(client: TestClient, names: list[str]) -> None:
            for name in names:
                answer = client.post(f"/subjects/{SUBJECT}/versions", json=_schema(name))
                if answer.status_code != 200:
                    failures.append(answer.text)
                else:
                    answers[name] = answer.json()["id"]

        threads = [
            threading.Thread(target=register, args=(one, ["a", "b", "c"])),
            threading.Thread(target=register, args=(other, ["d", "e", "f"])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not failures
        deadline = time.monotonic() + 30
        while _holdings(one) != _holdings(other):
            assert time.monotonic() < deadline, (_holdings(one), _holdings(other))
            time.sleep(0.1)
        held = _holdings(one)[SUBJECT]
        assert held["live"] == [1, 2, 3, 4, 5, 6]
        assert sorted(held["ids"]) == sorted(answers.values())


def test_the_topic_holds_confluents_layout(
    kafka_settings: Settings, catalogue: Catalogue, operator: OperatorCredential, topic: str
) -> None:
    with replica(kafka_settings, catalogue, operator, topic) as registry:
        schema_id = registry.post(f"/subjects/{SUBJECT}/versions", json=_schema()).json()["id"]
    reader = Consumer(consumer_config(kafka_settings, f"essai.{topic}", read_committed=True))
    reader.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    keys: list[dict[str, Any]] = []
    values: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while not any(k.get("subject") == SUBJECT for k in keys):
            assert time.monotonic() < deadline, keys
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                raw = message.key() or b""
                keys.append(json.loads(raw))
                value = message.value()
                values.append(json.loads(value) if value else None)
                assert raw == json.dumps(keys[-1], separators=(",", ":")).encode()  # compact, as written
                names = [*keys[-1]]
                assert names[0] == "keytype" and names[-1] == "magic", names
    finally:
        reader.close()
    assert {k["keytype"] for k in keys} <= {"SCHEMA", "NOOP"}
    mine = values[[k.get("subject") for k in keys].index(SUBJECT)]
    assert mine == {"subject": SUBJECT, "version": 1, "id": schema_id, "schema": mine["schema"], "deleted": False}
    repository = {k["subject"] for k in keys if k["keytype"] == "SCHEMA"} - {SUBJECT}
    assert repository == {f"canon.{s}-value" for s in catalogue.subjects}  # written once at first start
