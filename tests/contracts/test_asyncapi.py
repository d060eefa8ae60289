"""The AsyncAPI document: what the tables generate today, one channel per topic family, every message described,
its schemas true to the records the code writes, and valid for the official parser (Avro contracts included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from passerelle.broker import topics
from passerelle.broker.topics import SERVICES, Family
from passerelle.core import events
from passerelle.core.audit import AuditChain, AuditSigner, load_signing_key
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.dialect import OutboundContext
from passerelle.core.envelope import DEAD_LETTER_TYPE, FEEDBACK_TYPE, Envelope, event_type
from passerelle.core.events import Dialect
from passerelle.core.partners import Profiles
from passerelle.core.problems import Problem
from passerelle.core.shapes import Shape, shape_of, write_nested
from passerelle.runtime.audit import write_key_pair
from passerelle.runtime.failures import Failure, failure_outputs
from passerelle.runtime.messages import Incoming
from passerelle.settings import PROJECT_ROOT
from passerelle.simulation.native import imilo_message
from passerelle.stack import asyncapi
from passerelle.stack.asyncapi import document
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects import region_json
from services.region_adapter.dialects.common import REGION_PERSON_ID

COMMITTED = PROJECT_ROOT / "contracts" / "asyncapi.yaml"
TOOLS = PROJECT_ROOT / "tools" / "asyncapi"
EXAMPLES = PROJECT_ROOT / "contracts" / "examples"
# What the Makefile's target runs before the tests: the parser and its Avro schema parser, as locked.
INSTALL = "npm ci --prefix tools/asyncapi --ignore-scripts --no-audit --no-fund"
Spec = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Spec:
    loaded: Spec = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def profiles(catalogue: Catalogue) -> Profiles:
    return Profiles.load(PROJECT_ROOT / "contracts" / "partners", frozenset(catalogue.subjects))


def test_asyncapi_document_is_up_to_date() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == document(), (
        "contracts/asyncapi.yaml est périmé : lancez « passerelle contracts asyncapi »"
    )


# ---------------------------------------------------------------- shape of the document


def test_one_channel_per_topic_family(spec: Spec) -> None:
    described = {family.value for family in Family} - {family.value for family in asyncapi.LEFT_OUT}
    assert spec["asyncapi"] == "3.0.0"
    assert set(spec["channels"]) == described
    assert len(spec["channels"]) == len(Family) - 1  # only the probe's family is Passerelle's own machinery
    for family, channel in spec["channels"].items():
        assert channel["address"].split(".", 1)[0] == family
    assert spec["channels"]["audit"]["address"] == topics.AUDIT_TOPIC
    assert topics.PROBE_TOPIC in spec["info"]["description"]
    assert topics.SCHEMAS_TOPIC in spec["info"]["description"]


def test_channel_parameters_name_every_partner_subject_and_service(
    spec: Spec, catalogue: Catalogue, profiles: Profiles
) -> None:
    channels = spec["channels"]
    for family in ("in", "deliver", "out", "feedback"):
        assert channels[family]["address"] == f"{family}.{{partenaire}}"
        assert channels[family]["parameters"]["partenaire"]["enum"] == sorted(profiles.ids)
    assert channels["canon"]["parameters"]["sujet"]["enum"] == sorted(catalogue.subjects)
    assert channels["dlq"]["parameters"]["service"]["enum"] == list(SERVICES)


def _messages(spec: Spec) -> Iterator[tuple[str, str, Spec]]:
    for key, channel in spec["channels"].items():
        for name, ref in channel["messages"].items():
            yield key, name, spec["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]


def test_every_channel_has_messages_and_every_message_a_payload(spec: Spec) -> None:
    for key, channel in spec["channels"].items():
        assert channel["messages"], f"canal {key} sans message"
    for key, name, message in _messages(spec):
        payload = message.get("payload")
        assert payload, f"{key}/{name} sans contenu"
        schema = payload.get("schema", payload)
        assert schema.get("$ref") or schema.get("type") or schema.get("oneOf"), f"{key}/{name} : contenu vide"


def test_every_message_has_the_cloud_events_trait(spec: Spec) -> None:
    trait = {"$ref": f"#/components/messageTraits/{asyncapi.TRAIT}"}
    assert spec["components"]["messages"]
    for name, message in spec["components"]["messages"].items():
        assert message["traits"] == [trait], name
    headers = spec["components"]["messageTraits"][asyncapi.TRAIT]["headers"]["properties"]
    assert {"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"} <= set(headers)


def test_the_trait_names_every_header_the_envelope_writes(spec: Spec) -> None:
    trait = spec["components"]["messageTraits"][asyncapi.TRAIT]["headers"]["properties"]
    envelope = Envelope.new(event_type("formation.Positionnement"), "imilo", dataschema="urn:x")
    assert {name for name, _ in envelope.to_headers()} <= set(trait)


def test_every_canonical_subject_references_its_latest_avsc(spec: Spec, catalogue: Catalogue) -> None:
    channel = spec["channels"]["canon"]
    for subject in catalogue.subjects:
        message = spec["components"]["messages"][subject]
        assert subject in channel["messages"]
        assert spec["channels"]["deliver"]["messages"][subject] == channel["messages"][subject]
        assert message["payload"]["schemaFormat"] == "application/vnd.apache.avro+json;version=1.9.0"
        latest = catalogue.latest(subject)
        ref = message["payload"]["schema"]["$ref"]
        assert ref.endswith(f"{subject}/{latest.version}.avsc")
        target = (COMMITTED.parent / ref).resolve()
        assert json.loads(target.read_text(encoding="utf-8")) == latest.schema
        assert message["headers"]["properties"]["ce_type"]["const"] == event_type(subject)


def test_native_messages_cover_every_dialect_flow(spec: Spec) -> None:
    inbound = set(spec["channels"]["in"]["messages"])
    outbound = set(spec["channels"]["out"]["messages"])
    for event in events.EVENTS:
        for dialect in event.sent_in:
            assert f"{dialect.value}.{event.subject}" in inbound
        for dialect in event.received_in:
            assert f"{dialect.value}.{event.subject}" in outbound
    lheo = spec["components"]["messages"]["lheo-xml.formation.OffreSession"]
    assert lheo["contentType"] == "application/xml"
    assert lheo["externalDocs"]["url"].startswith("http://lheo.gouv.fr/2.3")
    assert spec["components"]["messages"]["region-csv.formation.StatutCandidature"]["contentType"] == "text/csv"


def test_servers_are_the_deployment_listeners(spec: Spec) -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    bootstrap = compose["x-kafka-client"]["PASSERELLE_KAFKA_BOOTSTRAP"]
    listeners = json.dumps(compose)
    production = spec["servers"]["production"]
    assert bootstrap == ",".join(f"{n}:{asyncapi.CLIENT_PORT}" for n in production["variables"]["noeud"]["enum"])
    assert f"CERTS://:{asyncapi.CERTS_PORT}" in listeners
    assert spec["servers"]["production-certificat"]["host"] == f"{{noeud}}:{asyncapi.CERTS_PORT}"
    schemes = spec["components"]["securitySchemes"]
    assert schemes["scramSha512"]["type"] == "scramSha512"
    assert schemes["certificatClient"]["type"] == "X509"


# ---------------------------------------------------------------- schemas true to the records


def _validator(spec: Spec, schema: Spec) -> jsonschema.Draft7Validator:
    # The schema's local $ref (#/components/schemas/…) resolve against the document.
    return jsonschema.Draft7Validator({**schema, "components": spec["components"]})


def _merged_headers(spec: Spec, message: Spec) -> set[str]:
    trait = spec["components"]["messageTraits"][asyncapi.TRAIT]["headers"]["properties"]
    return set(trait) | set(message["headers"]["properties"])


def _refused() -> tuple[Incoming, list[Failure]]:
    headers = {
        "ce_specversion": "1.0",
        "ce_id": "id-1",
        "ce_type": "formation.StatutCandidature",
        "ce_source": "region-24",
        "ce_time": "2026-03-02T08:15:02.113Z",
        "content-type": "application/json",
        "ce_dataschema": "urn:x",
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    }
    raw = tuple((k, v.encode()) for k, v in headers.items())
    message = Incoming("in.region-24", 2, 1841, b"cle", b'{"x": 1}', headers, raw, 0)
    problem = Problem("date", "date invalide", "date_statut", "date", "jj/mm/aaaa", "2026-03-02")
    failure = Failure("region_adapter", "region-24", (problem,), "formation.StatutCandidature v1", "ligne 3")
    return message, [failure]


def test_dead_letter_and_feedback_records_match_their_schemas(spec: Spec) -> None:
    message, failures = _refused()
    dlq, feedback = failure_outputs(message, failures, accepted=1, now=datetime(2026, 3, 2, tzinfo=UTC))
    messages = spec["components"]["messages"]
    dead = messages["rejet.LettreMorte"]
    written = {name for name, _ in dlq.headers}
    assert written <= _merged_headers(spec, dead)
    assert set(dead["headers"]["required"]) <= written
    assert dict(dlq.headers)["ce_type"].decode() == DEAD_LETTER_TYPE
    retour = messages["retour.Erreur"]
    assert {name for name, _ in feedback.headers} <= _merged_headers(spec, retour)
    assert dict(feedback.headers)["ce_type"].decode() == FEEDBACK_TYPE
    body = orjson.loads(feedback.value)
    schema = spec["components"]["schemas"]["Retour"]
    assert set(body) == set(schema["properties"])
    _validator(spec, schema).validate(body)


def test_audit_record_matches_its_schema(spec: Spec, tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path)
    chain = AuditChain("router-0", AuditSigner(load_signing_key(keys.signing.read_bytes())))
    record = orjson.loads(
        chain.append(
            event_id="e1",
            event_type="formation.Positionnement",
            sender="imilo",
            recipient="region-24",
            fields=["idPositionnement"],
            delivery_id="d1",
        )
    )
    schema = spec["components"]["schemas"]["Audit"]
    assert set(record) == set(schema["properties"])
    _validator(spec, schema).validate(record)


def _records(typed: TypedContracts, subject: str) -> Iterator[dict[str, Any]]:
    """The contract's valid examples as decoded records: defaults filled in, dates as dates."""
    for path in sorted((EXAMPLES / subject / "valid").glob("*.json")):
        yield typed.validate_json(subject, path.read_bytes())


def _natives(event: events.Event, record: dict[str, Any], shape: Shape) -> Iterator[tuple[str, Any]]:
    """The record as each JSON dialect carries it: written by the simulation for input, by the renderer for output."""
    subject = event.subject
    if Dialect.IMILO_JSON in event.sent_in:
        yield "imilo-json", orjson.loads(imilo_message(subject, {**record, "idDossier": "D-1"}))
    if Dialect.REGION_JSON in event.sent_in:
        item = {"evenement": subject, **write_nested(record, shape.root)}
        if subject == asyncapi.DROPOUT and "ine" not in item["jeune"]:
            item["jeune"][REGION_PERSON_ID] = "R-1"
        yield "region-json", [item]
    if Dialect.IMILO_JSON in event.received_in:
        yield "imilo-json", orjson.loads(imilo_json.render(subject, record).payload)
    if Dialect.REGION_JSON in event.received_in:
        yield "region-json", orjson.loads(region_json.render(subject, record, OutboundContext(shape)).payload)


def test_native_json_schemas_accept_the_contracts_valid_examples(
    spec: Spec, catalogue: Catalogue, typed: TypedContracts
) -> None:
    messages = spec["components"]["messages"]
    checked = 0
    for event in events.EVENTS:
        shape = shape_of(event.subject, catalogue.latest(event.subject).schema)
        for record in _records(typed, event.subject):
            for dialect, native in _natives(event, record, shape):
                _validator(spec, messages[f"{dialect}.{event.subject}"]["payload"]).validate(native)
                checked += 1
    assert checked >= 2 * len(events.EVENTS)


def test_native_json_schemas_refuse_a_missing_required_field(spec: Spec) -> None:
    schema = spec["components"]["messages"]["region-json.formation.StatutCandidature"]["payload"]
    item = {"evenement": "formation.StatutCandidature", "pseudonyme": "b" * 64, "statut": "ADMIS"}
    errors = list(_validator(spec, schema).iter_errors(item))
    assert errors, "un statut sans id_positionnement doit être refusé"


# ---------------------------------------------------------------- the official parser


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (TOOLS / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail(
            "le validateur AsyncAPI n'est pas installé (node et tools/asyncapi/node_modules) : lancez la cible "
            f"make des outils AsyncAPI, qui fait « {INSTALL} »"
        )
    return subprocess.run(
        [node, str(TOOLS / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_ROOT,
    )


def test_the_official_parser_accepts_the_document() -> None:
    result = _validate(COMMITTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "erreur" not in result.stdout
    assert f"valide ({len(Family) - 1} canaux" in result.stdout


def _broken_copy(spec: Spec, tmp_path: Path, breaking: str) -> Path:
    copy: Spec = json.loads(json.dumps(spec))
    for message in copy["components"]["messages"].values():
        schema = message["payload"].get("schema")
        if isinstance(schema, dict) and str(schema.get("$ref", "")).endswith(".avsc"):
            # Relative to the copy: the parser reads an absolute path as relative to the document too.
            schema["$ref"] = Path(os.path.relpath((COMMITTED.parent / schema["$ref"]).resolve(), tmp_path)).as_posix()
    message = copy["components"]["messages"]["formation.Positionnement"]
    if breaking == "avro":
        message["payload"]["schema"] = {"type": "record", "name": "Casse", "fields": [{"name": "x", "type": "inconnu"}]}
    elif breaking == "reference":
        copy["channels"]["canon"]["messages"]["formation.Positionnement"] = {"$ref": "#/components/messages/absent"}
    path = tmp_path / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(copy, allow_unicode=True), encoding="utf-8")
    return path


def test_the_copy_the_next_test_breaks_is_valid_as_it_is(spec: Spec, tmp_path: Path) -> None:
    result = _validate(_broken_copy(spec, tmp_path, "nothing"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("breaking", ["avro", "reference"])
def test_the_validator_catches_a_broken_document(spec: Spec, tmp_path: Path, breaking: str) -> None:
    result = _validate(_broken_copy(spec, tmp_path, breaking))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("erreur")]
    assert len(errors) == 1, result.stdout
    if breaking == "avro":
        assert "messages/formation.Positionnement/payload/schema" in errors[0]
        assert "inconnu" in errors[0]
    else:
        assert "#/components/messages/absent" in errors[0]
