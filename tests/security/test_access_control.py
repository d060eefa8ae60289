"""Who may see what, proven on Apache Kafka with the ACLs ``passerelle acl apply`` writes from the profiles.

Each test connects as one principal and shows what it may do and what it is refused. The cluster is the
session's single node, secured as production is (SCRAM over TLS, mutual TLS, StandardAuthorizer refusing
whatever no ACL allows).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from confluent_kafka import Consumer, KafkaException
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import Producer as ConfluentProducer
from confluent_kafka import TopicPartition as ConfluentPartition

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.acl import AclPlan, ClusterRights, Grant, Operation, Pattern, Resource, principal
from passerelle.broker.admin import ensure_topics
from passerelle.broker.apache import KafkaCluster
from passerelle.broker.pki import LocalCA
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.settings import Settings
from passerelle.stack.rights import GATEWAY, REGISTRY, SCHEMAS_TOPIC, provision, service_specs, wanted_grants
from services.registry.journal import WRITER_ID
from services.registry.records import noop_record

pytestmark = pytest.mark.kafka

LIMIT_S = 20.0
TOPIC_REFUSED = ConfluentError.TOPIC_AUTHORIZATION_FAILED
GROUP_REFUSED = ConfluentError.GROUP_AUTHORIZATION_FAILED


@pytest.fixture(scope="module")
async def cluster(apache_kafka_node: KafkaCluster, catalogue: Catalogue, profiles: Profiles) -> KafkaCluster:
    """The session's node with every topic, a SCRAM user per service and partner, and the policy's ACLs."""
    await ensure_topics(apache_kafka_node.access, topics.all_topics(profiles.ids, catalogue.subjects))
    settings = Settings(**apache_kafka_node.access.settings_fields())
    await asyncio.to_thread(provision, apache_kafka_node, profiles.ids, settings)
    return apache_kafka_node


async def _refused(action: Awaitable[Any], *errors: type[BaseException]) -> BaseException:
    with pytest.raises(errors or (KafkaError,)) as refused:
        async with asyncio.timeout(LIMIT_S):
            await action
    return refused.value


async def _refused_read(action: Awaitable[None], code: int) -> None:
    refused = await _refused(action, Refused)
    assert isinstance(refused, Refused) and refused.code == code, refused


async def _send(access: KafkaAccess, topic: str, key: bytes | None = None, **options: Any) -> None:
    producer = AIOKafkaProducer(**access.aiokafka(), request_timeout_ms=10_000, **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"essai", key=key, headers=[("ce_id", uuid.uuid4().hex.encode())])
    finally:
        await producer.stop()


class Refused(Exception):
    """The broker refused a read: its error, as librdkafka reports it."""

    def __init__(self, error: ConfluentError) -> None:
        super().__init__(error.str())
        self.code = error.code()


async def _read(access: KafkaAccess, topic: str, group: str, join: bool = False) -> None:
    """Reads ``topic`` to its end, its partition 0 assigned, or its partitions shared in ``group`` with ``join``
    (which needs the group's right; librdkafka asks for the group's coordinator either way).

    librdkafka, unlike aiokafka, reports an authorization refusal to the reader instead of retrying for ever.
    """

    def read() -> None:
        config = {**access.librdkafka(), "group.id": group, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, "enable.auto.commit": False}  # fmt: skip
        consumer = Consumer(config)
        try:
            if not join:
                consumer.assign([ConfluentPartition(topic, 0)])
            else:
                consumer.subscribe([topic])
            deadline = time.monotonic() + LIMIT_S
            while time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is None:
                    continue
                if error.code() == ConfluentError._PARTITION_EOF:
                    return  # in a group: reaching the end means it joined and was assigned the partitions
                raise Refused(error)
            raise TimeoutError(f"lecture de {topic} sans fin ni refus en {LIMIT_S:.0f} s")
        finally:
            consumer.close()

    await asyncio.to_thread(read)


@pytest.fixture(scope="module")
def region_24(cluster: KafkaCluster) -> KafkaAccess:
    return cluster.user("region-24")


async def test_a_partner_writes_its_own_input_and_reads_its_own_output_and_feedback(region_24: KafkaAccess) -> None:
    await _send(region_24, "in.region-24")
    await _read(region_24, "out.region-24", "region-24.suivi", join=True)
    await _read(region_24, "feedback.region-24", "region-24.erreurs", join=True)


@pytest.mark.parametrize(
    "topic", ["out.region-53", "feedback.region-53", "deliver.region-24", "canon.formation.Positionnement",
              topics.AUDIT_TOPIC, "in.imilo", "dlq.router"],
)  # fmt: skip
async def test_a_partner_cannot_read_anything_else(region_24: KafkaAccess, topic: str) -> None:
    await _refused_read(_read(region_24, topic, "region-24.lecture"), TOPIC_REFUSED)


@pytest.mark.parametrize("topic", ["in.imilo", "in.region-53", "canon.formation.Positionnement", "out.region-24",
                                   "deliver.region-24", topics.AUDIT_TOPIC])  # fmt: skip
async def test_a_partner_cannot_write_anywhere_but_its_input(region_24: KafkaAccess, topic: str) -> None:
    await _refused(_send(region_24, topic), TopicAuthorizationFailedError)


async def test_a_partner_cannot_join_another_partners_consumer_group(region_24: KafkaAccess) -> None:
    await _refused_read(_read(region_24, "out.region-24", "region-53.suivi", join=True), GROUP_REFUSED)
    await _refused_read(_read(region_24, "out.region-24", "passerelle.router", join=True), GROUP_REFUSED)


async def test_a_partner_cannot_use_a_services_transactional_id(region_24: KafkaAccess) -> None:
    await _refused(
        _send(region_24, "in.region-24", transactional_id="passerelle.router.router-0"),
        TransactionalIdAuthorizationFailed,
    )


async def test_only_the_router_writes_the_audit_chain(cluster: KafkaCluster) -> None:
    await _send(cluster.user("router"), topics.AUDIT_TOPIC)
    for service in ("milo-adapter", "region-adapter", "indicators", "attente"):
        await _refused(_send(cluster.user(service), topics.AUDIT_TOPIC), TopicAuthorizationFailedError)


async def test_a_service_cannot_read_outside_its_hop(cluster: KafkaCluster) -> None:
    milo = cluster.user("milo-adapter")
    await _refused_read(_read(milo, "in.region-24", "passerelle.milo_adapter"), TOPIC_REFUSED)
    await _refused_read(_read(milo, "out.region-53", "passerelle.milo_adapter"), TOPIC_REFUSED)


async def test_an_unknown_user_or_a_wrong_password_is_refused(cluster: KafkaCluster) -> None:
    admin = cluster.access
    for stranger in (admin.as_user("region-24", "pas-le-bon"), admin.as_user("inconnu", "secret")):
        await _refused(_send(stranger, "in.region-24", metadata_max_age_ms=1000), KafkaError)


async def test_plaintext_is_refused_where_tls_is_required(cluster: KafkaCluster) -> None:
    plain = KafkaAccess(cluster.bootstrap)  # no TLS, no identity, on the SCRAM-over-TLS listener
    await _refused(_send(plain, "in.region-24"), KafkaConnectionError, KafkaError)
    plain_tls_port = KafkaAccess(cluster.tls_bootstrap)
    await _refused(_send(plain_tls_port, "in.region-24"), KafkaConnectionError, KafkaError)


async def test_a_partner_with_a_certificate_is_the_same_principal(cluster: KafkaCluster) -> None:
    by_certificate = cluster.certificate("region-53")
    await _send(by_certificate, "in.region-53")
    await _read(by_certificate, "out.region-53", "region-53.suivi", join=True)
    await _refused_read(_read(by_certificate, "out.region-24", "region-53.lecture"), TOPIC_REFUSED)


async def test_a_certificate_from_another_authority_is_refused(cluster: KafkaCluster, tmp_path: Path) -> None:
    forged = LocalCA.open(tmp_path / "autre-ac")[0].ensure_client("region-24")
    stranger = cluster.certificate("region-24").with_certificate(forged.cert, forged.key)
    await _refused(_send(stranger, "in.region-24"), KafkaConnectionError, KafkaError, ssl.SSLError)


def test_acl_apply_is_idempotent_and_removes_what_is_no_longer_allowed(
    cluster: KafkaCluster, profiles: Profiles
) -> None:
    rights = ClusterRights(cluster.access)
    wanted = wanted_grants(profiles.ids, service_specs(Settings(**cluster.access.settings_fields())))
    assert rights.plan(wanted).empty
    stray = Grant(principal("region-24"), Resource.TOPIC, "out.region-53", Pattern.LITERAL, Operation.READ)
    rights.apply(rights.plan(wanted | {stray}))
    plan = rights.plan(wanted)
    assert plan.remove == (stray,) and not plan.add
    rights.apply(plan)
    assert rights.plan(wanted).empty


def test_removing_a_partner_from_the_profiles_removes_its_rights(cluster: KafkaCluster, profiles: Profiles) -> None:
    rights = ClusterRights(cluster.access)
    specs = service_specs(Settings(**cluster.access.settings_fields()))
    without = wanted_grants([p for p in profiles.ids if p != "region-84"], specs)
    plan = rights.plan(without)
    # Its own rights, and the gateway's right to publish on its in.region-84 for it.
    assert plan.remove and {g.principal for g in plan.remove} == {principal("region-84"), principal(GATEWAY)}
    assert {g.name for g in plan.remove if g.principal == principal(GATEWAY)} == {"in.region-84"}
    assert not plan.add


def test_the_acl_commands_show_and_close_the_difference(cluster: KafkaCluster, profiles: Profiles) -> None:
    from typer.testing import CliRunner

    from passerelle.cli import app

    env = cluster.access.environment()
    runner = CliRunner()
    assert runner.invoke(app, ["acl", "plan"], env=env).exit_code == 0
    rights = ClusterRights(cluster.access)
    stray = Grant(principal("region-53"), Resource.TOPIC, "in.imilo", Pattern.LITERAL, Operation.WRITE)
    rights.apply(AclPlan((stray,), ()))
    shown = runner.invoke(app, ["acl", "plan"], env={**env, "COLUMNS": "200"})
    assert shown.exit_code == 1 and "User:region-53" in shown.output and "topic:in.imilo" in shown.output, shown.output
    applied = runner.invoke(app, ["acl", "apply"], env=env)
    assert applied.exit_code == 0, applied.output
    assert runner.invoke(app, ["acl", "plan"], env=env).exit_code == 0


async def test_only_the_registry_touches_its_schemas_topic(cluster: KafkaCluster) -> None:
    await ensure_topics(cluster.access, [topics.schemas_topic()])
    marker = noop_record().key_bytes()  # compacted: every record needs a key
    await _send(cluster.user(REGISTRY), SCHEMAS_TOPIC, marker)
    await _read(cluster.user(REGISTRY), SCHEMAS_TOPIC, "schema-registry", join=True)
    for other in ("router", "region-24"):
        await _refused(_send(cluster.user(other), SCHEMAS_TOPIC, marker), TopicAuthorizationFailedError)


def test_only_the_registry_takes_the_registrys_writer_turn(cluster: KafkaCluster) -> None:
    """The replicas' shared transactional id fences the writer in place: nobody else may take it."""
    for name, allowed in (("registry", True), ("router", False)):
        config = cluster.user(name).librdkafka()
        producer = ConfluentProducer({**config, "transactional.id": WRITER_ID, "enable.idempotence": True})
        if allowed:
            producer.init_transactions(LIMIT_S)
            continue
        with pytest.raises(KafkaException) as refused:
            producer.init_transactions(LIMIT_S)
        assert refused.value.args[0].code() == ConfluentError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
