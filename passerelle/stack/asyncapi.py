"""The AsyncAPI 3.0 document of the whole broker, generated from the services' own FastStream brokers.

``contracts/asyncapi.yaml`` is this function's output; a test regenerates it
and fails when the committed file is stale.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from faststream.specification.asyncapi import AsyncAPI

from passerelle import __version__
from passerelle.runtime.audit import write_key_pair
from passerelle.settings import Settings
from passerelle.stack.deployables import SERVICES, build_service

DESCRIPTION = (
    "Passerelle relie les systèmes d'information des Missions Locales (I-MILO) et des Régions. "
    "Les partenaires publient dans leur dialecte sur in.<partenaire> et reçoivent sur out.<partenaire> ; "
    "les événements canoniques (Avro, format Confluent, en-têtes CloudEvents) circulent sur canon.*, "
    "les erreurs sur dlq.<service> et feedback.<partenaire>."
)


def document(settings: Settings | None = None) -> str:
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="passerelle-asyncapi-") as folder:
        # Any address and any key will do: nothing connects, and nothing is signed, while the document is built.
        update: dict[str, object] = {"kafka_bootstrap": "kafka-1:9092"}
        if base.audit_signing_key_file is None:
            update["audit_signing_key_file"] = write_key_pair(Path(folder)).signing
        spec_settings = base.model_copy(update=update)
        brokers = [hop.broker for name in SERVICES for hop in build_service(name, spec_settings).hops]
    spec = AsyncAPI(*brokers, title="Passerelle", version=__version__, description=DESCRIPTION, schema_version="3.0.0")
    # FastStream keeps publishers in hash order: sort everything so the document is stable across runs.
    data = spec.to_specification().to_jsonable()
    return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=120)
