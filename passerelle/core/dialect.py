"""The vocabulary every dialect speaks: native bytes in, canonical drafts or precise problems out.

Dialect modules are pure functions over these types, so they are tested
without a broker; the hop runtime turns a :class:`Rejected` into a DLQ record
and a feedback event, and validates every :class:`Draft` against its contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from passerelle.core.contracts.errors import FieldError
from passerelle.core.privacy import Pseudonymiser


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a native message (or one row, one session of it) could not be translated.

    ``code`` is stable and machine-readable (used as a metric label, so a
    bounded set); ``message`` is plain French for the sender's integrator;
    ``path`` names the native field; personal values never appear in it.
    """

    code: str
    message: str
    path: str = "$"
    rule: str = ""
    expected: str | None = None
    received: str | None = None

    @classmethod
    def from_field_error(cls, error: FieldError, code: str = "validation") -> Problem:
        return cls(
            code=code,
            message=error.message,
            path=error.path,
            rule=error.rule,
            expected=error.expected,
            received=error.received,
        )

    def as_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "chemin": self.path,
            "regle": self.rule,
            "message": self.message,
            "attendu": self.expected,
            "recu": self.received,
        }


@dataclass(frozen=True, slots=True)
class Draft:
    """A canonical record built from native input, not yet checked against its contract.

    ``position`` says where it came from inside a multi-record payload
    ("ligne 12", "session 3") and ``native_id`` is the sender's own id for it,
    from which the runtime derives a stable event id (same input, same id).
    """

    subject: str
    record: dict[str, Any]
    key: str
    position: str | None = None
    native_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A piece of native input that cannot become an event, with every reason found."""

    problems: tuple[Problem, ...]
    position: str | None = None
    subject: str | None = None

    @classmethod
    def one(
        cls,
        code: str,
        message: str,
        path: str = "$",
        *,
        position: str | None = None,
        subject: str | None = None,
        rule: str = "",
        expected: str | None = None,
        received: str | None = None,
    ) -> Rejected:
        problem = Problem(code, message, path, rule or code, expected, received)
        return cls((problem,), position, subject)


Outcome = Draft | Rejected


@dataclass(frozen=True, slots=True)
class InboundContext:
    """What a dialect may know about the message it parses, beyond its bytes."""

    partner: str
    pseudonymiser: Pseudonymiser
    event_type: str | None = None
    encoding: str = "utf-8"
    extras: dict[str, str] = field(default_factory=dict)
    # Native shapes of the contracts (``passerelle.core.shapes.Shape`` by subject), built once by the runtime.
    shapes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A canonical record rendered in a partner's dialect."""

    payload: bytes
    content_type: str


class InboundDialect(Protocol):
    """Native bytes to canonical drafts; never raises on bad input, yields :class:`Rejected`."""

    def __call__(self, payload: bytes, context: InboundContext) -> Iterable[Outcome]: ...


class OutboundDialect(Protocol):
    """A canonical record (as decoded from Avro) to the partner's native bytes."""

    def __call__(self, subject: str, record: dict[str, Any]) -> Rendered: ...


def drafts(outcomes: Iterable[Outcome]) -> Iterator[Draft]:
    """Only the drafts, for tests and tools that expect clean input."""
    return (o for o in outcomes if isinstance(o, Draft))
