"""What the console tests share: a login through the form, the CSRF token of a page, in-memory topics."""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from passerelle.runtime.messages import Output

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found[1]


def login(client: TestClient, user: str, password: str, after: str = "/") -> Any:
    form = client.get(f"/connexion?suite={after}")
    assert form.status_code == 200
    data = {"csrf": csrf_of(form.text), "utilisateur": user, "mot_de_passe": password, "suite": after}
    return client.post("/connexion", data=data, follow_redirects=False)


def record(topic: str, partition: int, offset: int, value: bytes, headers: Sequence[tuple[str, bytes]], ts: int) -> Any:
    return SimpleNamespace(
        topic=topic, partition=partition, offset=offset, timestamp=ts, key=None, value=value, headers=list(headers)
    )


class MemoryTopics:
    """Topics in memory: what the console reads, and what it sends lands here too."""

    def __init__(self) -> None:
        self.topics: dict[str, list[Any]] = {}
        self.sent: list[Output] = []

    def append(self, topic: str, value: bytes, headers: Sequence[tuple[str, bytes]] = (), ts: int = 0) -> Any:
        records = self.topics.setdefault(topic, [])
        made = record(topic, 0, len(records), value, headers, ts)
        records.append(made)
        return made

    async def records(self, topic: str) -> list[Any]:
        return list(self.topics.get(topic, []))

    async def send(self, outputs: Sequence[Output]) -> None:
        for output in outputs:
            self.sent.append(output)
            self.append(output.topic, output.value, list(output.headers))
