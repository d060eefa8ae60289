"""An inbound context as the runtime builds it, for dialect unit tests."""

from __future__ import annotations

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.dialect import InboundContext
from passerelle.core.privacy import Pseudonymiser
from passerelle.core.shapes import shape_of
from passerelle.settings import PROJECT_ROOT

CATALOGUE = Catalogue.load(PROJECT_ROOT / "schemas" / "avro")
SHAPES = {s: shape_of(s, CATALOGUE.latest(s).schema) for s in CATALOGUE.subjects}
PSEUDO = Pseudonymiser(b"secret-de-test")


def context(partner: str, event: str | None = None, encoding: str = "utf-8") -> InboundContext:
    return InboundContext(partner, PSEUDO, event, encoding, {"separateur": ";"}, SHAPES)
