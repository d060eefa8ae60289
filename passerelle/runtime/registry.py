"""A service's reads of the contract registry (Passerelle's, Karapace or Confluent's): the ids it frames records
with, and the schemas of ids it does not know.

Subjects follow Confluent's TopicNameStrategy: the canonical subject ``formation.Positionnement`` is registered
as ``canon.formation.Positionnement-value``, the value of its topic. Services only read; the operator registers
the repository's contracts (``passerelle contracts publish``).
"""

from __future__ import annotations

import functools
import json
import time

import httpx
import structlog

from passerelle.broker import topics
from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.errors import UnknownSchemaId

log = structlog.get_logger("passerelle.registre")
VALUE_SUFFIX = "-value"
_CONTENT = "application/vnd.schemaregistry.v1+json"


def registry_subject(subject: str) -> str:
    """TopicNameStrategy: the registry subject of a canonical subject (its topic's value)."""
    return topics.canonical(subject) + VALUE_SUFFIX


@functools.lru_cache(maxsize=1024)  # asked once per output record, for a handful of (subject, version)
def dataschema(subject: str, version: int, registry_url: str | None) -> str:
    """A canonical record's ``ce_dataschema``: its version in the registry, or a URN naming it without one."""
    name = registry_subject(subject)
    if registry_url:
        return f"{registry_url.rstrip('/')}/subjects/{name}/versions/{version}"
    return f"urn:passerelle:contrat:{name}:{version}"


def canonical_subject(registry_name: str) -> str | None:
    """The canonical subject a registry subject names, or None for a subject that is not a canonical topic's."""
    topic = registry_name.removesuffix(VALUE_SUFFIX)
    prefix = topics.canonical("")
    if registry_name == topic or not topic.startswith(prefix):
        return None
    return topic.removeprefix(prefix)


class ContractsNotPublished(RuntimeError):
    """The registry does not hold a contract of the repository: the operator has not published them."""


class RegistryReader:
    """Reads the registry over HTTP, asking again while it does not answer (it may start after the service)."""

    def __init__(self, url: str, timeout_s: float = 10.0, patience_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.patience_s = patience_s
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, headers={"Accept": _CONTENT})

    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        deadline = time.monotonic() + self.patience_s
        while True:
            try:
                response = self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"registre des contrats injoignable ({self.url}) : {error}") from None
                log.warning("registre.injoignable", url=self.url, erreur=str(error))
                time.sleep(1.0)
                continue
            if response.status_code >= 500 and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            return response

    def ids_of(self, catalogue: Catalogue) -> dict[tuple[str, int], int]:
        """The registry's id of every version of the catalogue, found by lookup (a read)."""
        ids: dict[tuple[str, int], int] = {}
        missing: list[str] = []
        for subject in catalogue:
            for version in catalogue.versions(subject):
                answer = self._request("POST", f"/subjects/{registry_subject(subject)}", json={"schema": version.text})
                if answer.status_code == 200:
                    ids[(subject, version.version)] = int(answer.json()["id"])
                elif answer.status_code == 404:
                    missing.append(f"{subject} v{version.version}")
                else:
                    raise RuntimeError(f"registre : {answer.status_code} {answer.text[:200]}")
        if missing:
            raise ContractsNotPublished(
                f"le registre {self.url} ne connaît pas {', '.join(missing)} : « passerelle contracts publish »"
            )
        return ids

    def fetch(self, schema_id: int) -> SchemaVersion:
        """The schema, subject and version of an id the catalogue does not hold."""
        found = self._request("GET", f"/schemas/ids/{schema_id}")
        if found.status_code == 404:
            raise UnknownSchemaId(schema_id)
        found.raise_for_status()
        schema = json.loads(found.json()["schema"])
        uses = self._request("GET", f"/schemas/ids/{schema_id}/versions")
        uses.raise_for_status()
        for use in uses.json():
            subject = canonical_subject(use["subject"])
            if subject is not None:
                log.info("registre.schema_inconnu_charge", id=schema_id, sujet=subject, version=use["version"])
                return SchemaVersion(subject, int(use["version"]), schema, registered_id=schema_id)
        raise UnknownSchemaId(schema_id)  # registered, but for no canonical topic

    def close(self) -> None:
        self._client.close()
