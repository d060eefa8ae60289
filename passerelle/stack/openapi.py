"""The OpenAPI 3.1 document of the partner gateway, as FastAPI generates it from the gateway's own routes.

``contracts/openapi.yaml`` is this function's output, beside ``contracts/asyncapi.yaml``: a test regenerates it and
fails when the committed file is stale, and the running gateway serves the same document at ``/openapi.json``.
The gateway is built offline for it (keys in memory, nothing published, no issuer): only its routes are read.
"""

from __future__ import annotations

from typing import Any

import yaml

from passerelle.settings import Settings
from passerelle.stack.gateway import build_gateway
from services.gateway.app import create_app
from services.gateway.idempotency import MemoryAnswers
from services.gateway.publish import MemoryPublisher

JSON = dict[str, Any]


def specification(settings: Settings | None = None) -> JSON:
    """The gateway's OpenAPI document as data, exactly what its ``/openapi.json`` answers."""
    config = (settings or Settings()).model_copy(update={"kafka_bootstrap": None, "gateway_jwks_url": None})
    return create_app(build_gateway(config, MemoryAnswers(), MemoryPublisher())).openapi()


def document(settings: Settings | None = None) -> str:
    """The OpenAPI document as YAML, in FastAPI's order (paths, then components), so diffs read as the code does."""
    return yaml.dump(specification(settings), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


class _Dumper(yaml.SafeDumper):
    """Writes every shared value in full: no YAML anchors, which some OpenAPI tools read badly."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True
