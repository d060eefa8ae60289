"""The vocabulary every dialect speaks: native bytes in, canonical drafts or precise problems out.

Dialect modules are pure functions over these types, so they are tested
without a broker; the hop runtime turns a :class:`Rejected` into a DLQ record
and a feedback event, and validates every :class:`Draft` against its contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from passerelle.core.limits import LIMITS, Limits
from passerelle.core.privacy import Pseudonymiser
from passerelle.core.problems import Problem
from passerelle.core.shapes import Shape


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
    # Native shapes of the contracts by subject, built once by the runtime.
    shapes: Mapping[str, Shape] = field(default_factory=dict)
    limits: Limits = LIMITS


@dataclass(frozen=True, slots=True)
class Rendered:
    """A canonical record rendered in a partner's dialect."""

    payload: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class OutboundContext:
    """What a dialect may know about the recipient it renders for: the contract's native shape and the
    recipient's file conventions."""

    shape: Shape
    encoding: str = "utf-8"
    separator: str = ";"


class InboundDialect(Protocol):
    """Native bytes to canonical drafts; never raises on bad input, yields :class:`Rejected`."""

    def __call__(self, payload: bytes, context: InboundContext, /) -> Iterable[Outcome]: ...


D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class ReadThenMap(Generic[D]):
    """An inbound dialect in two steps: the message read and screened whole (``read``), then its items mapped to
    drafts (``map``). Called, it is both; apart, a hop reads a slice of messages before it maps any of them."""

    read: Callable[[bytes, InboundContext], D | Rejected]
    map: Callable[[D, InboundContext], Iterable[Outcome]]

    def __call__(self, payload: bytes, context: InboundContext, /) -> Iterator[Outcome]:
        document = self.read(payload, context)
        if isinstance(document, Rejected):
            return iter((document,))
        return iter(self.map(document, context))


class OutboundDialect(Protocol):
    """A canonical record (as decoded from Avro) to the recipient's native bytes."""

    def __call__(self, subject: str, record: dict[str, Any], context: OutboundContext, /) -> Rendered: ...


class NativePath(Protocol):
    """The native name of a canonical field path, so a contract error names what the integrator wrote."""

    def __call__(self, subject: str, canonical: str, /) -> str: ...
