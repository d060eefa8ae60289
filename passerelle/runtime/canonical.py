"""Reading a canonical record off the bus: its CloudEvents envelope and its Avro body, or why not."""

from __future__ import annotations

from typing import NamedTuple

from passerelle.core.contracts.codec import AvroCodec, Decoded
from passerelle.core.contracts.errors import ContractError
from passerelle.core.envelope import Envelope, EnvelopeError
from passerelle.core.problems import Problem
from passerelle.runtime.messages import Incoming


class CanonicalInput(NamedTuple):
    envelope: Envelope
    decoded: Decoded


def read_canonical(message: Incoming, codec: AvroCodec) -> CanonicalInput | Problem:
    try:
        return CanonicalInput(Envelope.from_header_text(message.headers), codec.decode(message.value))
    except (EnvelopeError, ContractError) as exc:
        return Problem(exc.code, str(exc))
