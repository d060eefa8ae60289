"""Re-injecting DLQ records after a fix: back to their source topic, marked as a deliberate replay.

The replay mark is derived from the DLQ record's own position, so replaying
the same DLQ record twice is still deduplicated by the hop, while a replay of
an input that once failed is not mistaken for a duplicate of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from passerelle.core.headers import CAUSE, ERROR_PREFIX, ORIGINAL_PREFIX, REPLAY, VALUE_WITHHELD
from passerelle.runtime.messages import Output


@dataclass(frozen=True)
class DlqEntry:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_record(cls, record: Any) -> DlqEntry:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            record.key,
            record.value or b"",
            tuple(record.headers or ()),
        )

    def header(self, name: str) -> str:
        for key, value in reversed(self.headers):
            if key == name:
                return (value or b"").decode("utf-8", "replace")
        return ""

    def error(self, name: str) -> str:
        return self.header(ERROR_PREFIX + name)

    def original(self, name: str) -> str:
        """A header of the original record (its CloudEvents attributes are renamed in the DLQ since format 2)."""
        return self.header(ORIGINAL_PREFIX + name) or (self.header(name) if self.error("format") == "1" else "")

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def details(self) -> list[dict[str, Any]]:
        raw = self.error("details")
        try:
            parsed = orjson.loads(raw) if raw else []
        except orjson.JSONDecodeError:
            return []
        return parsed if isinstance(parsed, list) else []

    def replay(self) -> Output:
        """The original record, headers as received, sent back to where it was first read."""
        withheld = self.header(VALUE_WITHHELD)
        if withheld:
            raise ValueError(
                f"l'enregistrement {self.ref} de {self.topic} ne garde pas l'original (règle {withheld}) : "
                "le partenaire envoie un message corrigé"
            )
        source = self.error("source_topic")
        if not source:
            raise ValueError(f"l'enregistrement {self.ref} de {self.topic} n'indique pas son topic d'origine")
        renamed = any(k.startswith(ORIGINAL_PREFIX) for k, _ in self.headers) or self.error("format") not in ("", "1")
        headers = [
            (k.removeprefix(ORIGINAL_PREFIX), v)
            for k, v in self.headers
            if not k.startswith(ERROR_PREFIX)
            and k not in (CAUSE, REPLAY)
            and not (renamed and (k.startswith("ce_") or k == "content-type"))  # the DLQ record's own
        ]
        headers.append((REPLAY, f"{self.topic}@{self.ref}".encode()))
        return Output(source, self.value, self.key, headers)
