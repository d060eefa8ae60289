"""The audit chain over a real broker: the router continues its chain across a restart, passes over records
forged while it was down, and ``passerelle audit verify`` names the forgeries, not the router's real records.

It runs on a broker of its own: it writes forged records to ``audit.deliveries``, which must not reach the
chain the other tests verify.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passerelle.broker.access import KafkaAccess
from passerelle.broker.embedded import EmbeddedBroker, embedded_settings
from passerelle.broker.reader import collect
from passerelle.broker.topics import AUDIT_TOPIC
from passerelle.core.audit import AuditChain, AuditSigner, PublicKeys, digest, head_of, key_id, verify
from passerelle.runtime.audit import KeyPairFiles, chain_head, read_public_keys, write_key_pair
from passerelle.settings import Settings
from passerelle.stack.local import Stack
from tests.conftest import TEST_SECRET
from tests.e2e.traffic import positionnement
from tests.flows import cli, native_headers, send, wait_for

pytestmark = pytest.mark.broker

CHAIN = "router-0"


@pytest.fixture(scope="module")
def own_broker() -> Iterator[KafkaAccess]:
    with EmbeddedBroker() as broker:
        yield broker.access


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    return write_key_pair(tmp_path_factory.mktemp("audit") / "cles")


@pytest.fixture(scope="module")
async def audited(own_broker: KafkaAccess, keys: KeyPairFiles) -> AsyncIterator[Stack]:
    """The I-MILO adapter and the router, with a key pair made by ``audit keygen``, on the module's broker."""
    base = Settings(
        **own_broker.settings_fields(),
        pseudonym_secret=TEST_SECRET,
        batch_timeout_ms=10,
        audit_signing_key_file=keys.signing,
        audit_public_key_file=keys.public,
        instance_id=CHAIN,
    )
    running = Stack(
        embedded_settings(base, own_broker.bootstrap), services=("milo-adapter", "router"), with_registry=False
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def deliver_one(stack: Stack, producer: AIOKafkaProducer, audit_records: int) -> list[tuple[str, bytes]]:
    """Send one positionnement through the stack; the audit topic, by position, once it holds ``audit_records``."""
    n = uuid.uuid4().hex[:8]
    await send(producer, "in.imilo", positionnement(n), native_headers(ce_id=f"chaine-{n}"))
    records = await wait_for(stack.access, AUDIT_TOPIC, lambda _r: True, count=audit_records)
    # Positions as the broker numbers them (transaction markers take offsets too), as verify prints them.
    return [(f"{r.partition}:{r.offset}", r.value) for r in records]


async def test_the_chain_continues_across_a_restart_and_forgeries_are_named_not_the_router(
    audited: Stack, keys: KeyPairFiles
) -> None:
    producer = AIOKafkaProducer(**audited.access.aiokafka(), enable_idempotence=False)
    await producer.start()
    try:
        await deliver_one(audited, producer, 1)
        before = await deliver_one(audited, producer, 2)
        public_keys = read_public_keys([keys.public])
        report = verify(before, public_keys)
        assert report.ok and report.chains == {CHAIN: len(before)}
        last = orjson.loads(before[-1][1])

        await audited.remove("router")
        # While the router is down, someone with write access to the topic but not the key appends:
        # a record signed with another key, then one claiming the router's key.
        forger = AuditSigner(Ed25519PrivateKey.generate())
        forged_chain = AuditChain(CHAIN, forger, last["hash"], last["sequence"])
        unknown_key = forged_chain.append(
            event_id="faux",
            event_type="formation.Positionnement",
            sender="imilo",
            recipient="region-53",
            fields=["jeune.nomNaissance"],
            delivery_id="faux",
        )
        claimed = orjson.loads(unknown_key)
        claimed |= {"cle": last["cle"], "sequence": last["sequence"] + 1, "destinataire": "region-84"}
        claimed["hash"] = digest(claimed)
        claimed["signature"] = forger.sign(claimed)
        for forged in (unknown_key, orjson.dumps(claimed)):
            await producer.send_and_wait(AUDIT_TOPIC, forged, key=CHAIN.encode())

        await audited.add("router")
        await audited.wait_ready()
        after = await deliver_one(audited, producer, len(before) + 3)
    finally:
        await producer.stop()

    forged_at, claimed_at, resumed_at = (position for position, _ in after[len(before) :])
    resumed = orjson.loads(after[len(before) + 2][1])
    assert (resumed["sequence"], resumed["hashPrecedent"]) == (last["sequence"] + 1, last["hash"])
    report = verify(after, public_keys)
    assert [(b.position, b.sequence) for b in report.breaks] == [
        (forged_at, last["sequence"] + 1),
        (claimed_at, last["sequence"] + 1),
    ]
    assert report.breaks[0].reason.startswith("clé inconnue") and report.breaks[1].reason == "signature invalide"
    assert report.last_sequence == {CHAIN: last["sequence"] + 1}
    assert report.signed_by == {last["cle"]: len(before) + 1}

    code, out = await cli(audited, "audit", "verify", "--public-key", str(keys.public))
    assert code == 1, out
    assert last["cle"] in out.replace("\n", "")
    assert f"RUPTURE {AUDIT_TOPIC} {forged_at} (chaîne {CHAIN}" in out and "clé inconnue" in out
    assert f"RUPTURE {AUDIT_TOPIC} {claimed_at} (chaîne {CHAIN}" in out and "signature invalide" in out
    assert f" {resumed_at} " not in out  # the router's real record after the forgeries is not blamed
    assert "NON intègre : 2 enregistrement(s)" in out


async def test_verify_with_a_missing_or_foreign_public_key_fails(audited: Stack, tmp_path: Path) -> None:
    code, out = await cli(audited, "audit", "verify", "--public-key", str(tmp_path / "absente.pem"))
    assert code == 66 and "fichier de clés publiques illisible" in out  # a file named that does not exist
    other = write_key_pair(tmp_path / "autre")
    code, out = await cli(audited, "audit", "verify", "--public-key", str(other.public))
    assert code == 1 and "clé inconnue" in out
    kid = key_id(read_public_keys([other.public])[0])
    assert f"Clé publique {kid} : 0 enregistrement(s) signé(s)." in out


async def test_the_router_finds_its_chain_head_through_any_number_of_windows(
    audited: Stack, keys: KeyPairFiles
) -> None:
    trusted = PublicKeys(read_public_keys([keys.public]))
    records = [r.value for r in await collect(audited.access, AUDIT_TOPIC)]
    expected = head_of(records, CHAIN, trusted)
    assert expected is not None
    for window in (1, 3, len(records) + 10):
        assert await chain_head(audited.access, CHAIN, trusted, window=window) == expected
    assert await chain_head(audited.access, "router-9", trusted, window=2) is None  # read to the beginning


async def test_the_chain_resumes_after_a_batch_of_many_records(audited: Stack, keys: KeyPairFiles) -> None:
    """The embedded broker answers ListOffsets with the first offset of the last batch plus one: a router that
    trusted it resumed after the first record of its last batch and broke its own chain."""
    producer = AIOKafkaProducer(**audited.access.aiokafka(), enable_idempotence=False, linger_ms=200)
    await producer.start()
    try:
        start = len(await collect(audited.access, AUDIT_TOPIC))
        tag = uuid.uuid4().hex[:8]
        for i in range(30):  # one produce batch, one router batch, one batch of 30 audit records
            await producer.send(
                "in.imilo", positionnement(f"{tag}-{i}"), headers=native_headers(ce_id=f"lot-{tag}-{i}")
            )
        await producer.flush()
        await wait_for(audited.access, AUDIT_TOPIC, lambda _r: True, count=start + 30)
        await audited.remove("router")
        await audited.add("router")
        await audited.wait_ready()
        after = await deliver_one(audited, producer, start + 31)
    finally:
        await producer.stop()
    report = verify(after, read_public_keys([keys.public]))
    resumed = orjson.loads(after[-1][1])
    previous = orjson.loads(after[-2][1])
    assert (resumed["sequence"], resumed["hashPrecedent"]) == (previous["sequence"] + 1, previous["hash"])
    assert not [b for b in report.breaks if b.sequence is not None and b.sequence > previous["sequence"]]
