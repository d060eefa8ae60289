"""The registry's records: Confluent's ``_schemas`` layout, and a state that replaying them rebuilds exactly.

No broker here: what one replica plans and writes is applied by another, record by record, as the log would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from passerelle.core.contracts.catalogue import Catalogue, normalised_text, schema_id_for
from passerelle.core.contracts.compat import Level
from passerelle.runtime.registry import registry_subject
from services.registry.records import (
    KeyType,
    Record,
    UnreadableRecord,
    config_record,
    decode,
    noop_record,
    schema_record,
    schema_tombstone,
)
from services.registry.store import RegistryError, RegistryStore

SUBJECT = "partenaire.Essai-value"


def _schema(*extra: str) -> str:
    fields: list[dict[str, Any]] = [{"name": "id", "type": "string"}]
    fields += [{"name": name, "type": ["null", "string"], "default": None} for name in extra]
    return json.dumps({"type": "record", "name": "Essai", "namespace": "partenaire", "fields": fields})


class Replicas:
    """A writer's store and a reader's, the reader fed only by the records the writer wrote."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.writer = RegistryStore.from_catalogue(catalogue)
        self.reader = RegistryStore.from_catalogue(catalogue)
        self.log: list[tuple[bytes, bytes | None]] = []

    def write(self, planned: tuple[Any, list[Record]]) -> Any:
        result, records = planned
        for record in records:
            raw = (record.key_bytes(), record.value_bytes())
            self.log.append(raw)
            self.writer.apply(decode(*raw))
            self.reader.apply(decode(*raw))
        return result

    def replay(self, catalogue: Catalogue) -> RegistryStore:
        fresh = RegistryStore.from_catalogue(catalogue)
        for raw in self.log:
            fresh.apply(decode(*raw))
        return fresh


def _state(store: RegistryStore) -> dict[str, Any]:
    return {
        "subjects": {s: [(v.version, v.schema_id, v.text) for v in vs] for s, vs in store.subjects.items()},
        "ids": sorted(store.by_id),
        "deleted": sorted(store.deleted),
        "level": store.level,
        "levels": dict(store.subject_levels),
        "mode": store.mode,
    }


def test_keys_and_values_are_written_as_confluents_registry_writes_them() -> None:
    record = schema_record("s-value", 2, 7, '{"type":"string"}')
    assert record.key_bytes() == b'{"keytype":"SCHEMA","subject":"s-value","version":2,"magic":1}'
    assert json.loads(record.value_bytes() or b"") == {
        "subject": "s-value",
        "version": 2,
        "id": 7,
        "schema": '{"type":"string"}',
        "deleted": False,
    }
    assert config_record(None, "FULL").key_bytes() == b'{"keytype":"CONFIG","subject":null,"magic":0}'
    assert noop_record().key_bytes() == b'{"keytype":"NOOP","magic":0}'
    assert schema_tombstone("s-value", 2).value_bytes() is None


def test_a_key_in_another_property_order_is_read_and_written_back_in_confluents() -> None:
    karapace_style = b'{"subject":"s-value","version":1,"magic":1,"keytype":"SCHEMA"}'
    record = decode(karapace_style, b'{"subject":"s-value","version":1,"id":3,"schema":"\\"int\\""}')
    assert record.keytype is KeyType.SCHEMA
    assert record.key_bytes() == b'{"keytype":"SCHEMA","subject":"s-value","version":1,"magic":1}'


@pytest.mark.parametrize(
    ("key", "value"),
    [(b"pas du json", b"{}"), (b'["SCHEMA"]', None), (b'{"keytype":"INCONNU","magic":0}', None), (None, b"{}")],
)
def test_a_record_this_registry_cannot_use_is_refused_with_its_reason(key: bytes | None, value: bytes | None) -> None:
    with pytest.raises(UnreadableRecord):
        decode(key, value)


def test_a_replica_fed_the_log_holds_what_the_writer_holds(catalogue: Catalogue) -> None:
    replicas = Replicas(catalogue)
    writer = replicas.writer
    first = replicas.write(writer.plan_register(SUBJECT, _schema()))
    second = replicas.write(writer.plan_register(SUBJECT, _schema("commune")))
    assert first != second
    assert replicas.write(writer.plan_register(SUBJECT, _schema())) == first  # the same text: its id, no record
    replicas.write(writer.plan_level(SUBJECT, Level.BACKWARD))
    replicas.write(writer.plan_level(None, Level.FULL))
    assert replicas.write(writer.plan_delete(SUBJECT, "1", permanent=False)) == [1]
    replicas.write(writer.plan_mode("READONLY"))
    assert _state(replicas.reader) == _state(writer)
    assert _state(replicas.replay(catalogue)) == _state(writer)  # a replica restarted on the log
    assert writer.versions(SUBJECT)[-1].schema_id == second
    assert [v.version for v in writer.versions(SUBJECT, include_deleted=True)] == [1, 2]
    assert writer.schema(first).version == 1  # a soft-deleted version's id still resolves
    assert writer.level_of(SUBJECT) is Level.BACKWARD and writer.level is Level.FULL
    with pytest.raises(RegistryError) as refused:
        writer.plan_register(SUBJECT, _schema("commune", "region"))
    assert refused.value.code == 42205  # read-only, as the log says


def test_a_permanent_delete_is_a_tombstone_and_the_id_leaves_with_its_last_use(catalogue: Catalogue) -> None:
    replicas = Replicas(catalogue)
    writer = replicas.writer
    schema_id = replicas.write(writer.plan_register(SUBJECT, _schema()))
    replicas.write(writer.plan_register("autre-value", _schema()))  # same text elsewhere: same id
    assert writer.uses(schema_id) == [(SUBJECT, 1), ("autre-value", 1)]
    with pytest.raises(RegistryError) as not_soft_first:
        writer.plan_delete(SUBJECT, None, permanent=True)
    assert not_soft_first.value.code == 40405
    replicas.write(writer.plan_delete(SUBJECT, None, permanent=False))
    _, tombstones = writer.plan_delete(SUBJECT, None, permanent=True)
    assert [t.value for t in tombstones] == [None]
    replicas.write(([1], tombstones))
    assert SUBJECT not in writer.subjects and writer.uses(schema_id) == [("autre-value", 1)]
    replicas.write(writer.plan_delete("autre-value", None, permanent=False))
    replicas.write(writer.plan_delete("autre-value", None, permanent=True))
    with pytest.raises(RegistryError):
        writer.schema(schema_id)
    assert _state(replicas.replay(catalogue)) == _state(writer) == _state(replicas.reader)


def test_an_id_taken_by_another_text_is_not_given_again(catalogue: Catalogue) -> None:
    store = RegistryStore.from_catalogue(catalogue)
    text = _schema("commune")
    taken = schema_id_for(json.loads(text))
    store.apply(schema_record("occupant-value", 1, taken, normalised_text(json.loads(_schema("autre")))))
    schema_id, [record] = store.plan_register(SUBJECT, text)
    assert schema_id != taken and record.value is not None and record.value["id"] == schema_id


def test_the_repositorys_contracts_are_written_once_and_kept_against_the_log(catalogue: Catalogue) -> None:
    store = RegistryStore.from_catalogue(catalogue)
    planned = store.plan_repository()
    assert len(planned) == sum(len(catalogue.versions(s)) for s in catalogue.subjects)
    for record in planned:
        store.apply(record)
    assert store.plan_repository() == []
    subject = registry_subject("formation.Positionnement")
    first = store.version(subject, "1")
    store.apply(schema_record(subject, 1, 12345, '"string"'))  # another registry's contradiction
    store.apply(schema_tombstone(subject, 1))
    assert store.version(subject, "1") == first and store.schema(first.schema_id) == first


def test_confluents_subject_deletion_marks_every_version_up_to_the_one_it_names(catalogue: Catalogue) -> None:
    store = RegistryStore.from_catalogue(catalogue)
    for version, extra in enumerate([(), ("a",), ("a", "b")], start=1):
        store.apply(schema_record(SUBJECT, version, 100 + version, normalised_text(json.loads(_schema(*extra)))))
    store.apply(
        Record({"keytype": "DELETE_SUBJECT", "subject": SUBJECT, "magic": 0}, {"subject": SUBJECT, "version": 2})
    )
    assert [v.version for v in store.versions(SUBJECT)] == [3]


def test_two_writers_giving_one_version_two_schemas_keep_the_first_and_the_second_learns_it(
    catalogue: Catalogue,
) -> None:
    one, other, reader = (RegistryStore.from_catalogue(catalogue) for _ in range(3))
    _, [first] = one.plan_register(SUBJECT, _schema("a"))
    _, [second] = other.plan_register(SUBJECT, _schema("b"))  # decided on the same state: version 1 too
    assert first.key == second.key
    for store in (one, other, reader):
        store.apply(first)
        store.apply(second)
    assert reader.version(SUBJECT, "1").text == normalised_text(json.loads(_schema("a")))
    assert one.lost([first]) == []
    [restored] = other.lost([second])
    assert restored == first  # written again, compaction keeps the first's schema as the version's last record
    schema_id, [retried] = other.plan_register(SUBJECT, _schema("b"))
    assert retried.key["version"] == 2 and retried.value is not None and retried.value["id"] == schema_id


def test_a_repository_contract_numbered_by_another_registry_answers_to_both_ids(catalogue: Catalogue) -> None:
    store = RegistryStore.from_catalogue(catalogue)
    subject = registry_subject("formation.Positionnement")
    derived = store.version(subject, "1")
    store.apply(schema_record(subject, 1, 41, derived.text))  # as Karapace numbers it
    assert store.version(subject, "1").schema_id == 41
    assert store.schema(41).text == store.schema(derived.schema_id).text == derived.text
    assert store.plan_repository() == [
        r for r in store.plan_repository() if r.key["subject"] != subject or r.key["version"] != 1
    ]
