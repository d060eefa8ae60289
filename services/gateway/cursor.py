"""The pull API's cursor: for each partition of a partner's ``out.`` and ``feedback.`` topics, the next offset.

It is opaque to the partner (``c1.`` and base64url JSON) and carries only positions in the partner's own topics:
a cursor naming another partner's topic is refused, so a cursor never opens someone else's events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

PREFIX = "c1."
_MAX_CHARS = 4096
_UNREADABLE = "curseur illisible : utilisez un curseur rendu par la passerelle"


class CursorError(ValueError):
    """A cursor the gateway did not give, or not to this partner; the message is for the partner, in French."""


Position = tuple[str, int]  # topic, partition


@dataclass(frozen=True)
class Cursor:
    positions: Mapping[Position, int] = field(default_factory=dict)

    def encode(self) -> str:
        by_topic: dict[str, dict[str, int]] = {}
        for (topic, partition), offset in sorted(self.positions.items()):
            by_topic.setdefault(topic, {})[str(partition)] = offset
        return PREFIX + base64.urlsafe_b64encode(orjson.dumps(by_topic)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, topics: Iterable[str]) -> Cursor:
        """The cursor ``text`` stands for, if every topic it names is one of ``topics``."""
        allowed = set(topics)
        if not text.startswith(PREFIX) or len(text) > _MAX_CHARS:
            raise CursorError(_UNREADABLE)
        body = text.removeprefix(PREFIX)
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError) as exc:
            raise CursorError(_UNREADABLE) from exc
        if not isinstance(raw, dict):
            raise CursorError(_UNREADABLE)
        positions: dict[Position, int] = {}
        for topic, partitions in raw.items():
            if topic not in allowed:
                raise CursorError("ce curseur désigne les événements d'un autre partenaire")
            if not isinstance(partitions, dict):
                raise CursorError(_UNREADABLE)
            for partition, offset in partitions.items():
                # ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses.
                ascii_digits = partition.isascii() and partition.isdigit()
                if not (ascii_digits and isinstance(offset, int) and not isinstance(offset, bool)):
                    raise CursorError(_UNREADABLE)
                if offset < 0:
                    raise CursorError("curseur illisible : position négative")
                positions[(topic, int(partition))] = offset
        return cls(positions)

    def after(self, topic: str, partition: int, offset: int) -> Cursor:
        """This cursor moved past the record at ``offset``."""
        return Cursor({**self.positions, (topic, partition): offset + 1})

    def within(self, start: Mapping[Position, int]) -> Cursor:
        """``start`` (every partition's position) overridden by the positions this cursor names."""
        return Cursor({**start, **self.positions})
