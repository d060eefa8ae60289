"""The AsyncAPI 3.0 document of the whole broker, generated from the services' own FastStream brokers.

``contracts/asyncapi.yaml`` is this function's output; a test regenerates it
and fails when the committed file is stale.
"""

from __future__ import annotations

import yaml
from faststream.specification.asyncapi import AsyncAPI

from passerelle import __version__
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
    # Any address will do: nothing connects while the document is built.
    spec_settings = base.model_copy(update={"kafka_bootstrap": "kafka-1:9092"})
    brokers = [hop.broker for name in SERVICES for hop in build_service(name, spec_settings).hops]
    spec = AsyncAPI(*brokers, title="Passerelle", version=__version__, description=DESCRIPTION, schema_version="3.0.0")
    # FastStream keeps publishers in hash order: sort everything so the document is stable across runs.
    data = spec.to_specification().to_jsonable()
    return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=120)
