"""The dialects one adapter service owns, in both directions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from passerelle.core.dialect import InboundDialect, NativePath, OutboundDialect
from passerelle.core.events import Dialect


@dataclass(frozen=True)
class Dialects:
    parsers: Mapping[Dialect, InboundDialect]
    renderers: Mapping[Dialect, OutboundDialect]
    # Canonical field path → the native one, so a contract error names what the integrator wrote.
    native_paths: Mapping[Dialect, NativePath] = field(default_factory=dict)
