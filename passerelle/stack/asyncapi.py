"""The AsyncAPI 3.0 document of the wire, built from the tables that define it.

One channel per topic family (``passerelle.broker.topics``), its address a template over the partners, the
canonical subjects or the services. Canonical messages point at their latest Avro contract in
``schemas/avro``; native ones carry a JSON Schema derived from the contract and the dialect (or, for CSV and
LHEO, a described text); Passerelle's own records (feedback, dead letters, audit) have theirs; every message
takes the CloudEvents headers of ``passerelle.core.envelope`` as one trait.

``contracts/asyncapi.yaml`` is this function's output: a test regenerates it and fails when the committed file
is stale, and another runs the official parser over it (``tools/asyncapi/validate.mjs``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from passerelle import __version__
from passerelle.broker import topics
from passerelle.broker.topics import POLICIES, SERVICES, Family
from passerelle.core import audit, events
from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.formats import FORMATS
from passerelle.core.envelope import (
    AUDIT_TYPE,
    AVRO_CONTENT_TYPE,
    DEAD_LETTER_TYPE,
    FEEDBACK_TYPE,
    JSON_CONTENT_TYPE,
    SPECVERSION,
    TYPE_PREFIX,
    event_type,
)
from passerelle.core.events import Dialect, Route
from passerelle.core.headers import CAUSE, CORRELATION_ID, ERROR_PREFIX, FIRST_LINE, ORIGINAL_PREFIX, REPLAY, SENDER
from passerelle.core.partners import Profiles
from passerelle.core.shapes import columns, shape_of, snake
from passerelle.runtime.failures import DLQ_FORMAT
from passerelle.runtime.registry import registry_subject
from passerelle.settings import Settings
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects import region_csv, region_json
from services.region_adapter.dialects.common import REGION_PERSON_ID

JSON = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"
TRAIT = "cloudEvents"
XML_CONTENT_TYPE = "application/xml"
LHEO_DOCS = "http://lheo.gouv.fr/2.3/introduction.html"
# The production cluster as docker-compose.yml deploys it (a test compares): three nodes, two client listeners.
NODES = ("kafka-1", "kafka-2", "kafka-3")
CLIENT_PORT = 9093  # CLIENT: SCRAM-SHA-512 over TLS
CERTS_PORT = 9094  # CERTS: mutual TLS, the certificate's CN is the principal
# The one event whose young person a Region names by INE or its own id (services/region_adapter/dialects/common.py).
DROPOUT = "reperage.SignalementDecrochage"
# Families whose topics are Passerelle's own machinery, not a contract: left out (see the description).
LEFT_OUT = frozenset({Family.INTERNAL})
PARTNER_FAMILIES = frozenset({Family.IN, Family.OUT, Family.FEEDBACK})

_FAMILY_TEXT: dict[Family, tuple[str, str]] = {
    Family.IN: (
        "Entrées des partenaires",
        (
            "Les messages natifs que publie chaque partenaire, tels que son système les écrit (un objet ou un "
            "tableau JSON, un fichier CSV, un document LHEO). L'adaptateur de sa famille les traduit en événements "
            "canoniques ; ce qui est refusé part en lettre morte et en retour d'erreur."
        ),
    ),
    Family.CANON: (
        "Événements canoniques",
        (
            "Un topic par contrat : l'événement en Avro, au format filaire de Confluent (octet magique 0, "
            "identifiant du schéma dans le registre sur 4 octets, puis l'enregistrement), sujet du registre "
            "« canon.<sujet>-value » (TopicNameStrategy). Clé : le pseudonyme du jeune, pour que ses événements "
            "restent dans l'ordre."
        ),
    ),
    Family.DELIVER: (
        "Livraisons par destinataire",
        (
            "Les événements canoniques que le routeur adresse à un partenaire, minimisés à la vue de son profil : un "
            "champ personnel ou de texte libre hors de la vue vaut sa valeur par défaut. Même contrat Avro que canon.*."
        ),
    ),
    Family.OUT: (
        "Sorties vers les partenaires",
        "Ce que Passerelle livre à chaque partenaire, dans le dialecte de son profil : un message par événement.",
    ),
    Family.DLQ: (
        "Lettres mortes",
        (
            f"Chaque entrée refusée, une fois, avec les en-têtes de l'erreur (format {DLQ_FORMAT}) : pour "
            "l'inspection et le rejeu par l'opérateur (passerelle dlq). Peut contenir des données personnelles : "
            "c'est ce que le partenaire a envoyé."
        ),
    ),
    Family.FEEDBACK: (
        "Retours d'erreur",
        (
            "Une erreur lisible, en français, par message refusé (ou ligne CSV, ou session LHEO), pour l'expéditeur. "
            "Les chemins nomment ses propres champs ; aucune valeur personnelle n'y figure."
        ),
    ),
    Family.AUDIT: (
        "Journal d'audit",
        (
            "Un enregistrement par livraison, écrit et signé (Ed25519) par le routeur ; chaque instance tient sa "
            "chaîne, chaque enregistrement portant le hash du précédent (passerelle audit verify)."
        ),
    ),
}
_PUBLISHERS = {events.MISSION_LOCALE: "les Missions Locales (I-MILO)", events.REGION: "les Régions"}
_ROUTES = {
    Route.TO_MISSION_LOCALE: "vers I-MILO, pour la structure que nomme l'enregistrement",
    Route.TO_ML_OF_COMMUNE: "vers I-MILO, structure déduite de la commune du jeune",
    Route.TO_FUNDING_REGION: "vers la Région qui finance la session (regionDestinataire, sinon le préfixe d'idSession)",
    Route.TO_NAMED_REGION: "vers la Région que nomme le champ region",
    Route.TO_BOTH: "vers I-MILO et la Région du champ region",
}
_DIALECT_NAMES = {
    Dialect.IMILO_JSON: "JSON I-MILO",
    Dialect.REGION_JSON: "JSON Région",
    Dialect.REGION_CSV: "CSV Région",
    Dialect.LHEO_XML: "LHEO XML",
}
_CONTENT_TYPES = {
    Dialect.IMILO_JSON: imilo_json.CONTENT_TYPE,
    Dialect.REGION_JSON: region_json.CONTENT_TYPE,
    Dialect.REGION_CSV: region_csv.CONTENT_TYPE,
    Dialect.LHEO_XML: XML_CONTENT_TYPE,
}
# The JSON key naming the event in each JSON dialect's body (the ce_type header may say it instead on input).
_EVENT_KEYS = {Dialect.IMILO_JSON: "typeEvenement", Dialect.REGION_JSON: "evenement"}
_PRIMITIVES: dict[str, JSON] = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "bytes": {"type": "string"},
    "null": {"type": "null"},
}
# I-MILO's native kinds (imilo_json.FIELDS): what the partner writes, before conversion.
_IMILO_KINDS: dict[str, JSON] = {
    "text": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "code": {"type": "string"},
    "euros": {"type": "number"},
}


@dataclass(frozen=True)
class Wire:
    """What the document describes: the contracts, the partners, and where the contract files are."""

    catalogue: Catalogue
    profiles: Profiles
    # The $ref of a contract version's .avsc file, relative to the document.
    avsc: Callable[[SchemaVersion], str]

    @property
    def partners(self) -> list[str]:
        return sorted(self.profiles.ids)

    @property
    def subjects(self) -> list[str]:
        return sorted(self.catalogue.subjects)


def document(settings: Settings | None = None) -> str:
    """The AsyncAPI document as YAML, keys sorted so the committed file only changes when the wire does."""
    config = settings or Settings()
    catalogue = Catalogue.load(config.schemas_dir)
    profiles = Profiles.load(config.contracts_dir / "partners", frozenset(catalogue.subjects))

    def avsc(version: SchemaVersion) -> str:
        path = config.schemas_dir / version.subject / f"{version.version}.avsc"
        # The document sits in contracts_dir: the parser resolves the file from there.
        return Path(os.path.relpath(path, config.contracts_dir)).as_posix()

    data = specification(Wire(catalogue, profiles, avsc))
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=120)


class _Dumper(yaml.SafeDumper):
    """Writes every shared value in full: no YAML anchors, which some AsyncAPI tools read badly."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True


def specification(wire: Wire) -> JSON:
    """The AsyncAPI 3.0 document as data."""
    messages: JSON = {}
    schemas: JSON = {"Erreur": _problem_schema(), "Retour": _feedback_schema(), "Audit": _audit_schema()}
    channels: JSON = {}
    for family, build in _FAMILIES.items():
        channel, own = build(wire, schemas)
        _no_clash(messages, own)
        messages.update(own)
        channels[family.value] = channel
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(),
        "servers": _servers(),
        "channels": channels,
        "operations": _operations(channels),
        "components": {
            "messages": messages,
            "messageTraits": {TRAIT: _cloud_events_trait()},
            "schemas": schemas,
            "securitySchemes": _security_schemes(),
        },
    }


def _no_clash(messages: Mapping[str, JSON], own: Mapping[str, JSON]) -> None:
    clash = sorted(set(messages) & set(own))
    if clash:
        raise ValueError(f"deux messages du document AsyncAPI portent le même nom : {', '.join(clash)}")


# ---------------------------------------------------------------- info, servers, security


def _info() -> JSON:
    internal = ", ".join(sorted({topics.PROBE_TOPIC, topics.SCHEMAS_TOPIC}))
    described = ", ".join(f.value for f in Family if f not in LEFT_OUT)
    return {
        "title": "Passerelle",
        "version": __version__,
        "description": (
            "Passerelle relie les systèmes d'information des Missions Locales (I-MILO) et des Régions sur Kafka.\n\n"
            f"Un canal par famille de topics ({described}), son adresse paramétrée par le partenaire, le sujet "
            "canonique ou le service. Les partenaires publient leurs messages natifs sur in.<partenaire> et lisent "
            "out.<partenaire> et feedback.<partenaire> ; canon.*, deliver.*, dlq.* et audit.deliveries "
            "appartiennent à Passerelle. Les événements canoniques sont en Avro (contrats de schemas/avro, la "
            "dernière version référencée) ; chaque enregistrement porte les en-têtes CloudEvents (liaison Kafka, "
            "mode binaire), décrits par le trait « cloudEvents ».\n\n"
            "Les opérations sont décrites du point de vue de Passerelle : elle reçoit (receive) ce que les "
            "partenaires publient sur in.*, et envoie (send) sur out.* et feedback.* ce qu'ils lisent.\n\n"
            f"Topics internes, non décrits : {internal}. Le premier sert à la sonde que chaque service écrit au "
            "démarrage pour savoir si le courtier tient les transactions ; le second est le journal du registre des "
            "contrats (format de Karapace et du registre de Confluent). Aucun partenaire n'y a accès et leur contenu "
            "n'est pas un contrat d'échange."
        ),
        "tags": [
            {"name": "partenaires", "description": "Topics que lisent ou écrivent les partenaires."},
            {"name": "interne", "description": "Topics de Passerelle elle-même."},
        ],
    }


def _servers() -> JSON:
    node = {
        "noeud": {
            "description": "Un nœud du cluster : n'importe lequel sert d'amorce, les autres sont découverts.",
            "enum": list(NODES),
            "default": NODES[0],
        }
    }
    bindings = {"kafka": {"bindingVersion": KAFKA_BINDING, "schemaRegistryVendor": "confluent"}}
    return {
        "production": {
            "host": f"{{noeud}}:{CLIENT_PORT}",
            "protocol": "kafka-secure",
            "title": "Apache Kafka, écouteur CLIENT",
            "description": (
                "SCRAM-SHA-512 sur TLS (SASL_SSL), l'écouteur par défaut des services, des partenaires et des "
                "opérateurs ; le certificat des nœuds est vérifié avec l'autorité de certification du déploiement. "
                f"Amorce : {','.join(f'{n}:{CLIENT_PORT}' for n in NODES)}."
            ),
            "variables": node,
            "security": [_ref("#/components/securitySchemes/scramSha512")],
            "bindings": bindings,
        },
        "production-certificat": {
            "host": f"{{noeud}}:{CERTS_PORT}",
            "protocol": "kafka-secure",
            "title": "Apache Kafka, écouteur CERTS",
            "description": (
                "TLS mutuel (SSL, certificat client exigé), pour les partenaires qui préfèrent un certificat. Le CN du "
                "certificat est le principal (CN=region-24 est User:region-24) : mêmes droits que par SCRAM."
            ),
            "variables": node,
            "security": [_ref("#/components/securitySchemes/certificatClient")],
            "bindings": bindings,
        },
    }


def _security_schemes() -> JSON:
    return {
        "scramSha512": {
            "type": "scramSha512",
            "description": (
                "Un principal Kafka par partenaire (son identifiant de profil) et par service ; le mot de passe est "
                "remis par l'opérateur, jamais dans le dépôt. Les ACL n'autorisent que les topics du partenaire."
            ),
        },
        "certificatClient": {
            "type": "X509",
            "description": "Certificat client signé par l'autorité du déploiement ; son CN est le principal Kafka.",
        },
    }


# ---------------------------------------------------------------- the CloudEvents trait


def _cloud_events_trait() -> JSON:
    return {
        "name": "CloudEvents",
        "title": "En-têtes CloudEvents (liaison Kafka, mode binaire)",
        "summary": "Les attributs de l'événement en en-têtes Kafka (UTF-8) : le corps reste la donnée seule.",
        "headers": {
            "type": "object",
            "properties": {
                "ce_specversion": {"type": "string", "const": SPECVERSION, "description": "Version de CloudEvents."},
                "ce_id": {
                    "type": "string",
                    "description": "Identifiant de l'événement, stable : un rejeu garde le même (idempotence).",
                },
                "ce_type": {
                    "type": "string",
                    "description": f"Type de l'événement : {TYPE_PREFIX}<domaine>.<Nom>.",
                },
                "ce_source": {"type": "string", "description": "Qui l'a émis : un partenaire ou passerelle/<service>."},
                "ce_time": {"type": "string", "format": "date-time", "description": "Quand (RFC 3339, UTC)."},
                "content-type": {"type": "string", "description": "Type de contenu du corps."},
                "ce_dataschema": {
                    "type": "string",
                    "description": "La version du contrat dans le registre (URL, ou URN urn:passerelle:contrat:…).",
                },
                CORRELATION_ID: {
                    "type": "string",
                    "description": "Le ce_id du message qui a tout déclenché : suivi de bout en bout.",
                },
                "traceparent": {
                    "type": "string",
                    "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                    "description": "Contexte de trace W3C, porté sur chaque sortie et dans les journaux.",
                },
            },
        },
        "correlationId": {
            "location": f"$message.header#/{CORRELATION_ID}",
            "description": "Relie chaque sortie, erreur et audit au message d'origine.",
        },
    }


_PRODUCED = ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type", CORRELATION_ID]


def _headers(properties: JSON, required: Sequence[str] = ()) -> JSON:
    """A message's own headers, merged over the trait's: its constants and what it always carries."""
    headers: JSON = {"type": "object", "properties": properties}
    if required:
        headers["required"] = list(required)
    return headers


def _cause() -> JSON:
    return {
        CAUSE: {"type": "string", "description": "Identifiant de l'entrée dont il est issu (reprise sans doublon)."}
    }


def _sender() -> JSON:
    return {SENDER: {"type": "string", "description": "Le partenaire qui a envoyé l'entrée d'origine."}}


# ---------------------------------------------------------------- channels


Built = tuple[JSON, JSON]


def _channel(family: Family, address: str, parameters: JSON, messages: Sequence[str]) -> JSON:
    title, description = _FAMILY_TEXT[family]
    policy = POLICIES[family]
    kept = "sans limite" if policy.retention_ms < 0 else f"{policy.retention_ms // topics.DAY_MS} jours"
    channel: JSON = {
        "address": address,
        "title": title,
        "description": f"{description}\n\nRétention : {kept} ; {policy.partitions} partition(s) par topic.",
        "messages": {name: _ref(f"#/components/messages/{name}") for name in messages},
        "tags": [{"name": "partenaires" if family in PARTNER_FAMILIES else "interne"}],
        "bindings": {
            "kafka": {
                "bindingVersion": KAFKA_BINDING,
                "partitions": policy.partitions,
                "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": policy.retention_ms},
            }
        },
    }
    if parameters:
        channel["parameters"] = parameters
    return channel


def _partner_parameter(wire: Wire) -> JSON:
    return {
        "partenaire": {
            "description": "Identifiant du partenaire : imilo ou region-<code INSEE> (contracts/partners/<id>.yaml).",
            "enum": wire.partners,
        }
    }


def _inbound(wire: Wire, schemas: JSON) -> Built:
    messages = {
        _native_name(dialect, subject): _native_message(wire, schemas, dialect, subject, inbound=True)
        for subject, dialect in _native_flows(wire, inbound=True)
    }
    return _channel(Family.IN, topics.inbound("{partenaire}"), _partner_parameter(wire), sorted(messages)), messages


def _outbound(wire: Wire, schemas: JSON) -> Built:
    messages = {
        _native_name(dialect, subject): _native_message(wire, schemas, dialect, subject, inbound=False)
        for subject, dialect in _native_flows(wire, inbound=False)
    }
    return _channel(Family.OUT, topics.outbound("{partenaire}"), _partner_parameter(wire), sorted(messages)), messages


def _canonical(wire: Wire, _schemas: JSON) -> Built:
    messages = {subject: _canonical_message(wire, subject) for subject in wire.subjects}
    parameters = {
        "sujet": {
            "description": "Sujet du contrat canonique : schemas/avro/<sujet>/<version>.avsc.",
            "enum": wire.subjects,
        }
    }
    return _channel(Family.CANON, topics.canonical("{sujet}"), parameters, wire.subjects), messages


def _delivered(wire: Wire, _schemas: JSON) -> Built:
    # The canonical messages again, minimised: no message of its own.
    return _channel(Family.DELIVER, topics.deliver("{partenaire}"), _partner_parameter(wire), wire.subjects), {}


def _dead_letters(_wire: Wire, _schemas: JSON) -> Built:
    parameters = {"service": {"description": "Le service Passerelle qui a refusé l'entrée.", "enum": list(SERVICES)}}
    name = DEAD_LETTER_TYPE.removeprefix(TYPE_PREFIX)
    return _channel(Family.DLQ, topics.dlq("{service}"), parameters, [name]), {name: _dead_letter_message()}


def _feedbacks(wire: Wire, _schemas: JSON) -> Built:
    name = FEEDBACK_TYPE.removeprefix(TYPE_PREFIX)
    channel = _channel(Family.FEEDBACK, topics.feedback("{partenaire}"), _partner_parameter(wire), [name])
    return channel, {name: _feedback_message()}


def _audits(_wire: Wire, _schemas: JSON) -> Built:
    name = AUDIT_TYPE.removeprefix(TYPE_PREFIX)
    return _channel(Family.AUDIT, topics.AUDIT_TOPIC, {}, [name]), {name: _audit_message()}


_FAMILIES: dict[Family, Callable[[Wire, JSON], Built]] = {
    Family.IN: _inbound,
    Family.CANON: _canonical,
    Family.DELIVER: _delivered,
    Family.OUT: _outbound,
    Family.DLQ: _dead_letters,
    Family.FEEDBACK: _feedbacks,
    Family.AUDIT: _audits,
}


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class _Operation:
    key: str
    action: str
    family: Family
    title: str
    description: str


_OPERATIONS = (
    _Operation(
        "receiveInbound",
        "receive",
        Family.IN,
        "Lire les messages natifs des partenaires",
        "Le partenaire publie sur in.<son id> ; l'adaptateur de sa famille lit, traduit, valide et publie sur canon.*.",
    ),
    _Operation(
        "sendCanonical",
        "send",
        Family.CANON,
        "Publier les événements canoniques",
        "Les adaptateurs publient chaque événement traduit ; le service des indicateurs, pilotage.Indicateurs.",
    ),
    _Operation(
        "receiveCanonical",
        "receive",
        Family.CANON,
        "Lire les événements canoniques",
        "Le routeur trouve les destinataires de chaque événement ; le service des indicateurs suit ceux qu'il compte.",
    ),
    _Operation(
        "sendDelivery",
        "send",
        Family.DELIVER,
        "Adresser un événement à un destinataire",
        "Le routeur écrit, pour chaque destinataire, l'événement minimisé à sa vue, et l'enregistrement d'audit.",
    ),
    _Operation(
        "receiveDelivery",
        "receive",
        Family.DELIVER,
        "Lire les livraisons",
        "L'adaptateur de la famille du destinataire lit ses livraisons pour les rendre dans son dialecte.",
    ),
    _Operation(
        "sendOutbound",
        "send",
        Family.OUT,
        "Livrer au partenaire dans son dialecte",
        "Le partenaire lit out.<son id> (en « au moins une fois » : le ce_id d'une livraison ne change jamais).",
    ),
    _Operation(
        "sendDeadLetter",
        "send",
        Family.DLQ,
        "Garder l'entrée refusée",
        "Tout service qui refuse une entrée l'écrit une fois sur dlq.<service>, avec les en-têtes de l'erreur.",
    ),
    _Operation(
        "receiveDeadLetter",
        "receive",
        Family.DLQ,
        "Inspecter et rejouer",
        "L'opérateur lit les lettres mortes (passerelle dlq list) et les rejoue vers leur topic d'origine.",
    ),
    _Operation(
        "sendFeedback",
        "send",
        Family.FEEDBACK,
        "Dire au partenaire ce qui a été refusé",
        "Le partenaire lit feedback.<son id> : une erreur par message refusé, dans ses propres noms de champs.",
    ),
    _Operation(
        "sendAudit",
        "send",
        Family.AUDIT,
        "Enregistrer chaque livraison",
        "Le routeur écrit un enregistrement signé et chaîné par livraison, dans la même transaction que celle-ci.",
    ),
    _Operation(
        "receiveAudit",
        "receive",
        Family.AUDIT,
        "Reprendre et vérifier la chaîne",
        "Le routeur reprend sa chaîne au démarrage ; passerelle audit verify vérifie hash, ordre et signatures.",
    ),
)


def _operations(channels: Mapping[str, JSON]) -> JSON:
    operations: JSON = {}
    for operation in _OPERATIONS:
        channel = operation.family.value
        operations[operation.key] = {
            "action": operation.action,
            "channel": _ref(f"#/channels/{channel}"),
            "title": operation.title,
            "description": operation.description,
            "messages": [_ref(f"#/channels/{channel}/messages/{name}") for name in channels[channel]["messages"]],
            "tags": channels[channel]["tags"],
        }
    return operations


# ---------------------------------------------------------------- canonical messages


def _canonical_message(wire: Wire, subject: str) -> JSON:
    versions = wire.catalogue.versions(subject)
    latest = versions[-1]
    doc = str(latest.schema.get("doc", ""))
    listed = ", ".join(str(v.version) for v in versions)
    lines = [
        doc,
        "",
        *_event_lines(wire, subject),
        (
            f"Contrat : version {latest.version}, la dernière (versions publiées : {listed}) ; sujet du registre "
            f"{registry_subject(subject)}."
        ),
    ]
    required = [*_PRODUCED, "traceparent", "ce_dataschema", CAUSE]
    return {
        "name": subject,
        "title": subject,
        "summary": _first_sentence(doc),
        "description": "\n".join(lines),
        "contentType": AVRO_CONTENT_TYPE,
        "headers": _headers(
            {
                "ce_type": {"const": event_type(subject)},
                "ce_source": {
                    "description": "Le partenaire qui a publié l'entrée, ou passerelle (indicateurs, attente)."
                },
                "content-type": {"const": AVRO_CONTENT_TYPE},
                "ce_dataschema": {"description": f"Sa version dans le registre ({registry_subject(subject)})."},
                **_cause(),
                **_sender(),
            },
            required,
        ),
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": _ref(wire.avsc(latest))},
        "traits": [_ref(f"#/components/messageTraits/{TRAIT}")],
        "bindings": {
            "kafka": {
                "bindingVersion": KAFKA_BINDING,
                "key": {"type": "string", "description": "Le pseudonyme du jeune, à défaut l'identifiant de l'objet."},
                "schemaIdLocation": "payload",
                "schemaIdPayloadEncoding": "confluent",
                "schemaLookupStrategy": "TopicNameStrategy",
            }
        },
    }


def _event_lines(wire: Wire, subject: str) -> list[str]:
    """Who publishes and receives a canonical event, and how it is routed, from the events table and the profiles."""
    found = events.event(subject)
    if found is None:
        return []
    if found.publisher is None:
        published = f"Publié par Passerelle (service {found.service})."
    else:
        published = f"Publié par {_PUBLISHERS[found.publisher]} ; profils : {_users(wire, subject, inbound=True)}."
    return [
        published,
        f"Acheminé {_ROUTES[found.route]} ; reçu par : {_users(wire, subject, inbound=False)}.",
    ]


def _users(wire: Wire, subject: str, inbound: bool, dialect: Dialect | None = None) -> str:
    """The partners whose profile sends (or receives) ``subject``, in ``dialect`` when given."""
    names = []
    for profile in sorted(wire.profiles, key=lambda p: p.id):
        flows = profile.publishes if inbound else profile.receives
        flow = flows.get(subject)
        if flow is not None and dialect in (None, flow.dialect):
            names.append(profile.id if dialect else f"{profile.id} ({flow.dialect.value})")
    return ", ".join(names) or "aucun profil aujourd'hui"


# ---------------------------------------------------------------- native messages


def _native_flows(wire: Wire, inbound: bool) -> Iterator[tuple[str, Dialect]]:
    """Every (subject, dialect) the events table lets a partner send (or receive), for the catalogue's subjects."""
    for found in events.EVENTS:
        if found.subject in wire.catalogue:
            for dialect in found.sent_in if inbound else found.received_in:
                yield found.subject, dialect


def _native_name(dialect: Dialect, subject: str) -> str:
    return f"{dialect.value}.{subject}"


def _native_message(wire: Wire, schemas: JSON, dialect: Dialect, subject: str, inbound: bool) -> JSON:
    direction = "publié par" if inbound else "livré à"
    latest = wire.catalogue.latest(subject)
    message: JSON = {
        "name": _native_name(dialect, subject),
        "title": f"{subject} en {_DIALECT_NAMES[dialect]}",
        "summary": _first_sentence(str(latest.schema.get("doc", ""))),
        "description": (
            f"{subject} {direction} un partenaire en {_DIALECT_NAMES[dialect]} ({dialect.value}). Profils : "
            f"{_users(wire, subject, inbound, dialect)}. Les règles du dialecte : docs/dialects.md."
        ),
        "contentType": _CONTENT_TYPES[dialect],
        "headers": _inbound_headers(subject, dialect) if inbound else _outbound_headers(subject, dialect),
        "payload": _native_payload(wire, schemas, dialect, subject, inbound),
        "traits": [_ref(f"#/components/messageTraits/{TRAIT}")],
    }
    if dialect is Dialect.LHEO_XML:
        message["externalDocs"] = {"description": "Le langage LHEO 2.3 et son schéma XML", "url": LHEO_DOCS}
    return message


def _inbound_headers(subject: str, dialect: Dialect) -> JSON:
    """What a partner may write: every header is optional but ce_type for CSV (the file does not name its event)."""
    properties: JSON = {
        "ce_type": {
            "enum": [subject, event_type(subject)],
            "description": "L'événement, sous son nom ou son type CloudEvents.",
        },
        "ce_id": {"description": "Votre identifiant du message : l'envoyer deux fois ne livre qu'une fois."},
        "ce_source": {"description": "S'il est donné : votre identifiant (region-24, partenaire/region-24)."},
        "ce_time": {"description": "Quand l'événement a eu lieu chez vous ; par défaut, l'horodatage du record."},
        "content-type": {"description": f"S'il est donné : {_CONTENT_TYPES[dialect]}."},
        SENDER: {"type": "string", "description": "S'il est donné : votre identifiant, et aucun autre."},
    }
    if dialect is Dialect.REGION_CSV:
        properties[FIRST_LINE] = {
            "type": "string",
            "description": "Écrit par passerelle ingest csv : la ligne du fichier d'origine où commence ce morceau.",
        }
    return _headers(properties, ["ce_type"] if dialect is Dialect.REGION_CSV else ())


def _outbound_headers(subject: str, dialect: Dialect) -> JSON:
    content_type: JSON = {"const": _CONTENT_TYPES[dialect]}
    if dialect is Dialect.REGION_CSV:
        content_type = {"pattern": f"^{_CONTENT_TYPES[dialect]}; charset=", "description": "Avec l'encodage du profil."}
    return _headers(
        {
            "ce_type": {"const": event_type(subject)},
            "ce_source": {"description": "Le partenaire qui a publié l'événement, ou passerelle."},
            "content-type": content_type,
            **_cause(),
            **_sender(),
        },
        [*_PRODUCED, "traceparent", CAUSE, SENDER],
    )


def _native_payload(wire: Wire, schemas: JSON, dialect: Dialect, subject: str, inbound: bool) -> JSON:
    if dialect is Dialect.REGION_CSV:
        return _csv_payload(wire, subject, inbound)
    if dialect is Dialect.LHEO_XML:
        return {
            "type": "string",
            "description": (
                "Un document LHEO 2.2 (http://www.lheo.org/2.2) ou 2.3 (http://lheo.gouv.fr/2.3) : chaque session de "
                "chaque action de chaque formation devient un formation.OffreSession. Lu en flux, sans entité ni "
                "réseau ; passerelle ingest lheo découpe les plus gros fichiers en documents de formations entières."
            ),
        }
    if not inbound:
        return _json_item(wire, dialect, subject, inbound=False)
    # One object or an array of them, each handled (and refused) on its own.
    name = _native_name(dialect, subject)
    schemas[name] = _json_item(wire, dialect, subject, inbound=True)
    return {
        "oneOf": [
            _ref(f"#/components/schemas/{name}"),
            {
                "type": "array",
                "items": _ref(f"#/components/schemas/{name}"),
                "description": "Plusieurs événements : chacun est traduit, ou refusé, seul (« élément N »).",
            },
        ]
    }


def _json_item(wire: Wire, dialect: Dialect, subject: str, inbound: bool) -> JSON:
    if dialect is Dialect.IMILO_JSON and inbound:
        item = _imilo_inbound(wire, subject)
    else:
        naming: Callable[[str], str] = str if dialect is Dialect.IMILO_JSON else snake
        item = AvroToJson(naming).convert(wire.catalogue.latest(subject).schema)
        if inbound and subject == DROPOUT:
            _dropout_person(item)
    key = _EVENT_KEYS[dialect]
    if dialect is Dialect.IMILO_JSON and not inbound:  # the renderer's own renaming, so the event keeps its key
        renamed = imilo_json.RENAMED_OUT
        item["properties"] = {renamed.get(name, name): field for name, field in item["properties"].items()}
        item["required"] = [renamed.get(name, name) for name in item.get("required", [])]
    clash = item["properties"].get(key)
    if clash is not None:
        raise ValueError(f"{subject} : le champ {key} du contrat prendrait la place de l'événement en {dialect.value}")
    item["properties"] = {key: {"const": subject, "description": "L'événement."}, **item["properties"]}
    if not inbound:  # Passerelle always names the event; a partner may name it in the ce_type header instead
        item["required"] = [key, *item.get("required", [])]
    return item


def _dropout_person(item: JSON) -> None:
    """A Region names a signalled young person by INE or by its own id, never by the pseudonym Passerelle makes."""
    person = item["properties"]["jeune"]
    person["properties"].pop("pseudonyme", None)
    person["required"] = [r for r in person.get("required", []) if r != "pseudonyme"]
    if not person["required"]:
        del person["required"]
    person["properties"][REGION_PERSON_ID] = {
        "type": ["string", "integer"],
        "description": "L'identifiant du jeune chez la Région, quand son INE est inconnu ; jamais transmis.",
    }
    person["anyOf"] = [{"required": ["ine"]}, {"required": [REGION_PERSON_ID]}]


def _imilo_inbound(wire: Wire, subject: str) -> JSON:
    """I-MILO's own shape (imilo_json.FIELDS): the dossier block, euros, codes in any case."""
    contract = AvroToJson(str).convert(wire.catalogue.latest(subject).schema)
    item: JSON = {"type": "object", "description": contract.get("description", ""), "properties": {}}
    fields = imilo_json.FIELDS[subject]
    for native, canonical, kind in fields:
        leaf, required = _at(contract, canonical)
        _put(item, native.split("."), _imilo_leaf(leaf, kind), required)
    if any(native.startswith("dossier.") for native, _, _ in fields):
        person = {
            "type": ["string", "integer"],
            "description": "L'identifiant du dossier I-MILO, dont Passerelle fait le pseudonyme ; jamais transmis.",
        }
        _put(item, ["dossier", "idDossier"], person, True)
    return item


def _imilo_leaf(leaf: JSON, kind: str) -> JSON:
    schema = dict(_IMILO_KINDS[kind])
    text = str(leaf.get("description", ""))
    if kind == "code" and "enum" in leaf:
        text += f" Valeurs : {', '.join(leaf['enum'])} (casse indifférente)."
    elif kind == "euros":
        text += " En euros : Passerelle le convertit en centimes."
    elif kind == "text" and "pattern" in leaf:
        schema["pattern"] = leaf["pattern"]
    schema["description"] = text.strip()
    return schema


def _at(schema: JSON, dotted: str) -> tuple[JSON, bool]:
    """The JSON Schema of a field of the contract (``jeune.nomNaissance``) and whether it is required all the way."""
    node, required = schema, True
    for part in dotted.split("."):
        required = required and part in node.get("required", [])
        node = node["properties"][part]
    return node, required


def _put(item: JSON, path: Sequence[str], leaf: JSON, required: bool) -> None:
    node = item
    for part in path[:-1]:
        if required and part not in node.setdefault("required", []):
            node["required"].append(part)
        node = node["properties"].setdefault(part, {"type": "object", "properties": {}})
    node["properties"][path[-1]] = leaf
    if required:
        node.setdefault("required", []).append(path[-1])


def _csv_payload(wire: Wire, subject: str, inbound: bool) -> JSON:
    names = [name for name, _, _ in columns(shape_of(subject, wire.catalogue.latest(subject).schema).root)]
    if inbound and subject == DROPOUT:
        names.append(f"jeune_{REGION_PERSON_ID}")
    if inbound:
        layout = (
            "Un fichier CSV d'un seul événement, nommé par l'en-tête ce_type : une ligne d'en-tête, puis une ligne "
            "par événement. Colonnes, dans n'importe quel ordre (une colonne inconnue est refusée) : "
            f"{', '.join(names)}."
        )
    else:
        layout = (
            "Un fichier CSV par événement : une ligne d'en-tête, puis sa ligne. Colonnes, dans cet ordre : "
            f"{', '.join(['evenement', *names])}."
        )
    return {
        "type": "string",
        "description": (
            f"{layout} Séparateur et encodage du profil (csv.separateur, csv.encodage) ; dates jj/mm/aaaa ; "
            "booléens oui/non ; listes jointes par « | » ; cellule vide = valeur absente."
        ),
    }


# ---------------------------------------------------------------- Passerelle's own records


def _feedback_message() -> JSON:
    return {
        "name": FEEDBACK_TYPE.removeprefix(TYPE_PREFIX),
        "title": "Retour d'erreur",
        "summary": "Ce qui a été refusé d'un message du partenaire, et pourquoi, en français.",
        "description": (
            "Un enregistrement par message refusé, même si plusieurs lignes, sessions ou éléments l'ont été ; "
            "borné à 256 Kio (erreursOmises compte les erreurs coupées). Son en-tête correlation_id est le ce_id "
            "envoyé par le partenaire."
        ),
        "contentType": JSON_CONTENT_TYPE,
        "headers": _headers(
            {
                "ce_type": {"const": FEEDBACK_TYPE},
                "ce_source": {"enum": [f"passerelle/{s}" for s in SERVICES]},
                "content-type": {"const": JSON_CONTENT_TYPE},
                **_cause(),
            },
            [*_PRODUCED, CAUSE],
        ),
        "payload": _ref("#/components/schemas/Retour"),
        "traits": [_ref(f"#/components/messageTraits/{TRAIT}")],
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "key": {"description": "La clé de l'entrée."}}},
    }


def _problem_schema() -> JSON:
    text = {"type": ["string", "null"]}
    return {
        "type": "object",
        "description": "Un problème trouvé, nommé dans les champs natifs de l'expéditeur ; aucune valeur personnelle.",
        "required": ["code", "chemin", "message"],
        "properties": {
            "code": {"type": "string", "description": "Code stable de l'erreur (date, nir, obligatoire…)."},
            "chemin": {"type": "string", "description": "Le champ natif en cause (date_statut, ligne 3…)."},
            "regle": {**text, "description": "La règle enfreinte."},
            "message": {"type": "string", "description": "L'explication, en français."},
            "attendu": {**text, "description": "Ce qui était attendu."},
            "recu": {**text, "description": "Ce qui a été reçu, masqué pour un champ personnel."},
            "position": {**text, "description": "La ligne CSV, l'élément JSON ou la session LHEO."},
            "contrat": {**text, "description": "Le contrat et sa version (formation.StatutCandidature v1)."},
        },
    }


def _feedback_schema() -> JSON:
    text = {"type": ["string", "null"]}
    return {
        "type": "object",
        "required": [
            "statut",
            "evenement",
            "idMessage",
            "acceptes",
            "rejetes",
            "erreurs",
            "erreursOmises",
            "recu",
            "service",
            "horodatage",
        ],
        "properties": {
            "statut": {"enum": ["rejete", "partiel"], "description": "partiel : une partie du message est passée."},
            "evenement": {**text, "description": "L'événement du message, s'il est connu."},
            "idMessage": {"type": "string", "description": "Le ce_id envoyé (sinon sha256:<empreinte du message>)."},
            "position": {**text, "description": "La position du premier élément refusé."},
            "contrat": {**text, "description": "Le contrat et sa version."},
            "acceptes": {"type": "integer", "minimum": 0, "description": "Éléments du message acceptés."},
            "rejetes": {"type": "integer", "minimum": 1, "description": "Éléments du message refusés."},
            "erreurs": {"type": "array", "items": _ref("#/components/schemas/Erreur")},
            "erreursOmises": {"type": "integer", "minimum": 0, "description": "Erreurs coupées pour tenir la taille."},
            "recu": {
                "type": "object",
                "description": "Où le message refusé a été lu.",
                "required": ["topic", "partition", "offset"],
                "properties": {
                    "topic": {"type": "string"},
                    "partition": {"type": "integer", "minimum": 0},
                    "offset": {"type": "integer", "minimum": 0},
                },
            },
            "service": {"enum": list(SERVICES), "description": "Le service qui l'a refusé."},
            "horodatage": {"type": "string", "format": "date-time", "description": "Quand (UTC)."},
            "rejeu": {**text, "description": "Présent quand l'opérateur a rejoué le message depuis la DLQ."},
        },
    }


_DEAD_LETTER_ERRORS = {
    "format": f"Format de l'enregistrement : {DLQ_FORMAT}.",
    "code": "Code du premier problème du premier élément refusé.",
    "path": "Son chemin natif.",
    "rule": "Sa règle.",
    "message": "Son message, en français.",
    "contract": "Le contrat et sa version.",
    "position": "La position du premier élément refusé.",
    "positions": "Les positions de tous les éléments refusés (coupées à 4 Kio).",
    "items": "Nombre d'éléments refusés.",
    "accepted": "Nombre d'éléments passés.",
    "count": "Nombre de problèmes en tout.",
    "details": "Liste JSON des problèmes (code, chemin, regle, message, attendu, recu, position, contrat), ≤ 32 Kio.",
    "details_omitted": "Problèmes laissés hors de la liste.",
    "source_topic": "Le topic où l'entrée a été lue.",
    "source_partition": "Sa partition.",
    "source_offset": "Son offset.",
    "service": "Le service qui l'a refusée.",
    "time": "Quand (UTC).",
    "value_truncated": "Taille d'origine, quand la valeur a dû être coupée pour tenir sous la limite du courtier.",
    "value_withheld": "La règle qui interdit de garder l'original (nir) : la valeur est alors vide.",
    "target_topic": "Sortie refusée par le courtier (code sortie_refusee) : le topic visé.",
}
_ORIGINALS = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "ce_dataschema", "content-type")


def _dead_letter_headers() -> JSON:
    text = {"type": "string"}
    properties: JSON = {
        "ce_type": {"const": DEAD_LETTER_TYPE},
        "ce_source": {"enum": [f"passerelle/{s}" for s in SERVICES]},
        "content-type": {"description": "Celui de l'entrée : la donnée est l'entrée elle-même."},
        **{ERROR_PREFIX + k: {**text, "description": v} for k, v in _DEAD_LETTER_ERRORS.items()},
        **{
            ORIGINAL_PREFIX + k: {**text, "description": f"L'en-tête {k} de l'entrée, rendu au rejeu."}
            for k in _ORIGINALS
        },
        **_cause(),
        **_sender(),
        REPLAY: {**text, "description": "Présent quand l'entrée était déjà un rejeu."},
    }
    properties[ERROR_PREFIX + "format"]["const"] = DLQ_FORMAT
    return _headers(properties, [*_PRODUCED, ERROR_PREFIX + "format", ERROR_PREFIX + "code", CAUSE])


def _dead_letter_message() -> JSON:
    return {
        "name": DEAD_LETTER_TYPE.removeprefix(TYPE_PREFIX),
        "title": "Lettre morte",
        "summary": "L'entrée refusée, octet pour octet, et l'erreur en en-têtes.",
        "description": (
            "Un CloudEvent à lui seul : ses propres attributs ce_*, ceux de l'entrée renommés "
            f"{ORIGINAL_PREFIX}*, l'erreur en {ERROR_PREFIX}*. Les autres en-têtes de l'entrée sont gardés tels "
            "quels ; un rejeu (passerelle dlq replay) rend à l'entrée ses en-têtes d'origine."
        ),
        "headers": _dead_letter_headers(),
        "payload": {
            "type": "string",
            "format": "binary",
            "description": "Les octets de l'entrée refusée (vides pour une sortie refusée par le courtier).",
        },
        "traits": [_ref(f"#/components/messageTraits/{TRAIT}")],
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "key": {"description": "La clé de l'entrée."}}},
    }


def _audit_schema() -> JSON:
    hexa = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
    fields: JSON = {
        "chaine": {"type": "string", "description": "L'instance du routeur qui l'a écrit : une chaîne par instance."},
        "sequence": {"type": "integer", "minimum": 1, "description": "1, 2, 3… dans la chaîne."},
        "idEvenement": {"type": "string", "description": "Le ce_id de l'événement canonique livré."},
        "typeEvenement": {"type": "string", "description": "Son sujet (formation.Positionnement)."},
        "expediteur": {"type": "string", "description": "Le partenaire qui l'a publié."},
        "destinataire": {"type": "string", "description": "Le partenaire destinataire."},
        "champsLivres": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Les champs que la vue du destinataire a laissé passer.",
        },
        "idLivraison": {"type": "string", "description": "Le ce_id de la livraison sur deliver.<destinataire>."},
        "horodatage": {"type": "string", "format": "date-time", "description": "Quand le routeur l'a écrit (UTC)."},
        "hashPrecedent": {**hexa, "description": f"Le hash du précédent ; {len(audit.GENESIS)} zéros pour le premier."},
        audit.KEY: {**hexa, "description": "Identifiant de la clé de signature : SHA-256 de sa clé publique (DER)."},
        audit.HASH: {**hexa, "description": "SHA-256 de l'enregistrement sans hash ni signature (clés triées)."},
        audit.SIGNATURE: {"type": "string", "description": "Signature Ed25519 (base64) de l'enregistrement sans elle."},
    }
    return {
        "type": "object",
        "description": "JSON compact, clés triées : les octets mêmes qui sont hachés et signés.",
        "required": sorted(fields),
        "properties": fields,
    }


def _audit_message() -> JSON:
    return {
        "name": AUDIT_TYPE.removeprefix(TYPE_PREFIX),
        "title": "Enregistrement d'audit",
        "summary": "Une livraison : qui, à qui, quels champs ; signé et chaîné.",
        "contentType": JSON_CONTENT_TYPE,
        "headers": _headers(
            {
                "ce_type": {"const": AUDIT_TYPE},
                "ce_source": {"const": "passerelle/router"},
                "content-type": {"const": JSON_CONTENT_TYPE},
                **_cause(),
            },
            [*_PRODUCED, "traceparent", CAUSE],
        ),
        "payload": _ref("#/components/schemas/Audit"),
        "traits": [_ref(f"#/components/messageTraits/{TRAIT}")],
        "bindings": {
            "kafka": {"bindingVersion": KAFKA_BINDING, "key": {"type": "string", "description": "La chaîne (chaine)."}}
        },
    }


# ---------------------------------------------------------------- Avro → JSON Schema


class AvroToJson:
    """An Avro contract as the JSON Schema of its JSON rendering: field names through ``naming``, nulls left out
    (a null field is absent), dates as text, each field's ``doc`` as its description and its format as a pattern."""

    def __init__(self, naming: Callable[[str], str]) -> None:
        self.naming = naming
        self.named: dict[str, tuple[Any, str]] = {}

    def convert(self, avro: Any, namespace: str = "") -> JSON:
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            if len(branches) == 1:
                return self.convert(branches[0], namespace)
            return {"oneOf": [self.convert(b, namespace) for b in branches]}
        if isinstance(avro, str):
            if avro in _PRIMITIVES:
                return dict(_PRIMITIVES[avro])
            return self.convert(*self._lookup(avro, namespace))
        return self._complex(avro, namespace)

    def _lookup(self, name: str, namespace: str) -> tuple[Any, str]:
        for candidate in (f"{namespace}.{name}", name):
            if candidate in self.named:
                return self.named[candidate]
        raise ValueError(f"type Avro inconnu : {name}")

    def _complex(self, avro: Mapping[str, Any], namespace: str) -> JSON:
        kind, logical = avro["type"], avro.get("logicalType")
        if logical == "date":
            return {"type": "string", "format": "date"}
        if logical in ("timestamp-millis", "timestamp-micros"):
            return {"type": "string", "format": "date-time"}
        if kind in ("record", "enum", "fixed"):
            namespace = str(avro.get("namespace", namespace))
            self.named[f"{namespace}.{avro['name']}"] = (avro, namespace)
            self.named[str(avro["name"])] = (avro, namespace)
        if kind == "record":
            return self._record(avro, namespace)
        if kind == "enum":
            return {"type": "string", "enum": list(avro["symbols"])}
        if kind == "array":
            return {"type": "array", "items": self.convert(avro["items"], namespace)}
        if kind == "map":
            return {"type": "object", "additionalProperties": self.convert(avro["values"], namespace)}
        return self.convert(kind, namespace)

    def _record(self, avro: Mapping[str, Any], namespace: str) -> JSON:
        properties: JSON = {}
        required: list[str] = []
        for field in avro["fields"]:
            key = self.naming(str(field["name"]))
            properties[key] = _annotated(self.convert(field["type"], namespace), field)
            if "default" not in field:
                required.append(key)
        record: JSON = {"type": "object", "properties": properties}
        if avro.get("doc"):
            record["description"] = str(avro["doc"])
        if required:
            record["required"] = required
        return record


def _annotated(schema: JSON, field: Mapping[str, Any]) -> JSON:
    text = str(field.get("doc", ""))
    if field.get("pii"):
        text += f" Donnée personnelle ({field['pii']})."
    if field.get("texte_libre") and "texte libre" not in text.lower():
        text += " Texte libre."
    known = FORMATS.get(str(field.get("format", "")))
    if known is not None:
        target = schema["items"] if schema.get("type") == "array" else schema
        target["pattern"] = f"^(?:{known.pattern.pattern})$"
        text += f" Format : {known.expected}."
    if text.strip():
        schema["description"] = text.strip()
    return schema


# ---------------------------------------------------------------- small helpers


def _ref(target: str) -> JSON:
    return {"$ref": target}


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + ("." if dot else "")
