"""The signed audit chain: a writer without the router's key can neither forge nor extend it, and verify
names the first forged or broken record without blaming the router's real records around it."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from datetime import UTC, datetime

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.audit import (
    GENESIS,
    AuditChain,
    AuditKeyError,
    AuditSigner,
    ChainBreak,
    PublicKeys,
    canonical,
    digest,
    generate_key_pair,
    head_of,
    key_id,
    load_public_keys,
    load_signing_key,
    verify,
)
from passerelle.core.envelope import format_time

NOW = datetime(2026, 3, 2, 8, 15, 2, 113000, tzinfo=UTC)
ROUTER = AuditSigner(Ed25519PrivateKey.generate())
FORGER = AuditSigner(Ed25519PrivateKey.generate())


def UNKNOWN_OF(signer: AuditSigner) -> str:  # noqa: N802 (reads as the constant below)
    return f"clé inconnue ({signer.key_id[:16]}…) : enregistrement non signé par le routeur"


UNKNOWN = UNKNOWN_OF(FORGER)
MISSING = "enregistrement manquant ou déplacé"


def deliver(chain: AuditChain, n: int, recipient: str = "region-24") -> bytes:
    return chain.append(
        event_id=f"evt-{n}",
        event_type="formation.Positionnement",
        sender="imilo",
        recipient=recipient,
        fields=["idPositionnement", "jeune.pseudonyme"],
        delivery_id=f"liv-{n}",
        recorded_at=format_time(NOW),
    )


def written(chain_id: str, count: int, signer: AuditSigner = ROUTER) -> list[bytes]:
    chain = AuditChain(chain_id, signer)
    return [deliver(chain, n) for n in range(count)]


def positioned(records: list[bytes]) -> list[tuple[str, bytes]]:
    return [(f"0:{i}", raw) for i, raw in enumerate(records)]


def check(records: list[bytes], *signers: AuditSigner) -> list[ChainBreak]:
    return verify(positioned(records), [s.public_key for s in signers or (ROUTER,)]).breaks


def following(raw: bytes, signer: AuditSigner, n: int = 99) -> bytes:
    """The record a forger writes after ``raw``: same chain, next sequence, right hashPrecedent, own key."""
    last = orjson.loads(raw)
    forger = AuditChain(last["chaine"], signer, last["hash"], last["sequence"])
    return deliver(forger, n, recipient="region-53")


def edited(raw: bytes, changes: dict[str, object], rehash: bool = False) -> bytes:
    record = {**orjson.loads(raw), **changes}
    if rehash:
        record["hash"] = digest(record)
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


# ---- The record ------------------------------------------------------------------------------------------


def test_a_record_carries_its_links_its_key_id_and_a_signature_over_the_rest() -> None:
    first, second = (orjson.loads(r) for r in written("router-0", 2))
    assert second["hashPrecedent"] == first["hash"] and first["hashPrecedent"] == GENESIS
    assert {k: v for k, v in second.items() if k not in {"hash", "hashPrecedent", "signature"}} == {
        "chaine": "router-0",
        "sequence": 2,
        "idEvenement": "evt-1",
        "typeEvenement": "formation.Positionnement",
        "expediteur": "imilo",
        "destinataire": "region-24",
        "champsLivres": ["idPositionnement", "jeune.pseudonyme"],
        "idLivraison": "liv-1",
        "horodatage": "2026-03-02T08:15:02.113Z",
        "cle": ROUTER.key_id,
    }
    # The hash covers everything but itself and the signature; the signature covers everything but itself.
    body = {k: v for k, v in second.items() if k not in {"hash", "signature"}}
    assert second["hash"] == hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    signed = {k: v for k, v in second.items() if k != "signature"}
    ROUTER.public_key.verify(base64.b64decode(second["signature"]), canonical(signed))
    assert canonical(signed) == orjson.dumps(signed, option=orjson.OPT_SORT_KEYS)


def test_the_key_id_is_the_sha256_of_the_public_key_as_openssl_prints_it() -> None:
    der = ROUTER.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_id(ROUTER.public_key) == ROUTER.key_id == hashlib.sha256(der).hexdigest()
    openssl = shutil.which("openssl")
    if openssl:
        pem = ROUTER.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        out = subprocess.run(
            [openssl, "pkey", "-pubin", "-outform", "DER"], input=pem, capture_output=True, check=True
        ).stdout
        assert hashlib.sha256(out).hexdigest() == ROUTER.key_id


def test_records_rolled_back_are_signed_again_identically() -> None:
    chain = AuditChain("router-0", ROUTER)
    committed = [deliver(chain, 0)]
    chain.commit()
    lost = [deliver(chain, 1), deliver(chain, 2)]
    chain.rollback()
    again = [deliver(chain, 1), deliver(chain, 2)]
    assert again == lost  # Ed25519 signatures are deterministic: the same batch writes the same bytes
    assert check([*committed, *again]) == []


# ---- What verify says -----------------------------------------------------------------------------------


def test_an_intact_chain_verifies_and_says_which_key_signed() -> None:
    report = verify(positioned(written("router-0", 5)), [ROUTER.public_key, FORGER.public_key])
    assert report.ok and report.first_break is None
    assert report.chains == {"router-0": 5} and report.last_sequence == {"router-0": 5}
    assert report.signed_by == {ROUTER.key_id: 5, FORGER.key_id: 0}


def test_a_forged_record_appended_after_real_ones_is_named() -> None:
    records = written("router-0", 3)
    records.append(following(records[-1], FORGER))
    assert check(records) == [ChainBreak("0:3", "router-0", 4, UNKNOWN)]


def test_a_forged_record_claiming_the_router_key_has_an_invalid_signature() -> None:
    records = written("router-0", 3)
    forged = orjson.loads(following(records[-1], FORGER))
    forged["cle"] = ROUTER.key_id
    forged["hash"] = digest(forged)
    forged["signature"] = FORGER.sign(forged)
    records.append(orjson.dumps(forged))
    assert check(records) == [ChainBreak("0:3", "router-0", 4, "signature invalide")]


@pytest.mark.parametrize(
    "damage",
    [{"signature": None}, {"cle": None}, {"signature": "pas-du-base64!"}, {"signature": "AAAA"}],
    ids=["sans-signature", "sans-cle", "signature-illisible", "signature-courte"],
)
def test_an_unsigned_or_garbled_record_is_named(damage: dict[str, object]) -> None:
    records = written("router-0", 3)
    record = {k: v for k, v in {**orjson.loads(records[1]), **damage}.items() if v is not None}
    records[1] = orjson.dumps(record)
    [only] = check(records)
    assert (only.position, only.sequence) == ("0:1", 2)
    assert only.reason in {"signature absente", "signature invalide"}


def test_a_whole_chain_forged_with_another_key_is_refused_record_by_record() -> None:
    forged = written("router-0", 4, signer=FORGER)
    report = verify(positioned(forged), [ROUTER.public_key])
    assert report.breaks == [ChainBreak(f"0:{i}", "router-0", i + 1, UNKNOWN) for i in range(4)]
    assert report.signed_by == {ROUTER.key_id: 0} and report.last_sequence == {}


def test_a_forged_chain_interleaved_with_the_real_one_hides_nothing() -> None:
    real, forged = written("router-0", 3), written("router-0", 3, signer=FORGER)
    breaks = check([real[0], forged[0], real[1], forged[1], forged[2], real[2]])
    assert [b.position for b in breaks] == ["0:1", "0:3", "0:4"]
    assert all(b.reason == UNKNOWN for b in breaks)


def test_after_a_forged_append_the_routers_next_real_record_is_not_blamed() -> None:
    chain = AuditChain("router-0", ROUTER)
    records = [deliver(chain, n) for n in range(3)]
    records.append(following(records[-1], FORGER))  # someone writes to the topic without the key
    records += [deliver(chain, n) for n in range(3, 5)]  # the router goes on: it never read the forgery
    report = verify(positioned(records), [ROUTER.public_key])
    assert report.breaks == [ChainBreak("0:3", "router-0", 4, UNKNOWN)]
    assert report.last_sequence == {"router-0": 5} and report.signed_by == {ROUTER.key_id: 5}


def test_a_restarted_router_resumes_after_its_last_authentic_record_not_after_a_forgery() -> None:
    records = written("router-0", 3)
    records += [following(records[-1], FORGER), b"{illisible", *written("router-1", 2)]
    keys = PublicKeys([ROUTER.public_key])
    head = head_of(records, "router-0", keys)
    assert head == (orjson.loads(records[2])["hash"], 3)
    resumed = AuditChain("router-0", ROUTER, *head)
    records.append(deliver(resumed, 3))
    assert check(records) == [
        ChainBreak("0:3", "router-0", 4, UNKNOWN),
        ChainBreak("0:4", None, None, "enregistrement illisible"),
    ]
    assert head_of(records, "router-2", keys) is None and head_of([], "router-0", keys) is None


def test_a_chain_continued_with_a_new_key_verifies_with_the_old_and_new_public_keys() -> None:
    old = written("router-0", 2)
    new_signer = AuditSigner(Ed25519PrivateKey.generate())
    head = head_of(old, "router-0", PublicKeys([ROUTER.public_key]))
    assert head is not None
    rotated = AuditChain("router-0", new_signer, *head)
    records = [*old, deliver(rotated, 2), deliver(rotated, 3)]
    report = verify(positioned(records), [ROUTER.public_key, new_signer.public_key])
    assert report.ok and report.signed_by == {ROUTER.key_id: 2, new_signer.key_id: 2}
    # Without the former key its records are unknown, and named; the new key's records follow them.
    without_old = verify(positioned(records), [new_signer.public_key])
    assert [(b.position, b.reason) for b in without_old.breaks] == [
        ("0:0", UNKNOWN_OF(ROUTER)),
        ("0:1", UNKNOWN_OF(ROUTER)),
    ]


def test_a_modified_record_is_named() -> None:
    records = written("router-0", 4)
    records[2] = edited(records[2], {"destinataire": "region-53"})
    assert check(records) == [ChainBreak("0:2", "router-0", 3, "contenu modifié : le hash ne correspond plus")]


def test_a_modified_record_given_a_fresh_hash_fails_its_signature() -> None:
    records = written("router-0", 4)
    records[1] = edited(records[1], {"champsLivres": ["jeune.nomNaissance"]}, rehash=True)
    assert check(records) == [ChainBreak("0:1", "router-0", 2, "signature invalide")]


def test_a_missing_record_is_named_by_the_record_found_in_its_place() -> None:
    records = written("router-0", 5)
    del records[2]
    assert check(records) == [ChainBreak("0:2", "router-0", 4, f"séquence 4 au lieu de 3 : {MISSING}")]


def test_a_replayed_authentic_record_is_named() -> None:
    records = written("router-0", 3)
    records.insert(2, records[0])
    breaks = check(records)
    assert breaks[0] == ChainBreak("0:2", "router-0", 1, f"séquence 1 au lieu de 3 : {MISSING}")


def test_two_interleaved_chains_verify_independently() -> None:
    a, b = written("router-0", 3), written("router-1", 3)
    report = verify(positioned([a[0], b[0], b[1], a[1], a[2], b[2]]), [ROUTER.public_key])
    assert report.ok and report.chains == {"router-0": 3, "router-1": 3}
    b[1] = edited(b[1], {"idEvenement": "evt-x"})
    assert check([a[1], b[0], b[1], a[2], b[2]]) == [
        ChainBreak("0:0", "router-0", 2, f"séquence 2 au lieu de 1 : {MISSING}"),
        ChainBreak("0:2", "router-1", 2, "contenu modifié : le hash ne correspond plus"),
    ]  # b[2] follows the original of the modified record: that gap is the break already named


def test_an_unreadable_record_is_named_with_no_chain() -> None:
    records = positioned(written("router-0", 2))
    records.insert(1, ("0:9", b"[]"))
    assert verify(records, [ROUTER.public_key]).breaks == [ChainBreak("0:9", None, None, "enregistrement illisible")]


# ---- Keys ------------------------------------------------------------------------------------------------


def test_a_generated_pair_loads_back_and_several_public_keys_share_one_file() -> None:
    private_pem, public_pem = generate_key_pair()
    signer = AuditSigner(load_signing_key(private_pem))
    other_public = generate_key_pair()[1]
    keys = load_public_keys(public_pem + b"\n" + other_public)
    assert len(keys) == 2 and key_id(keys[0]) == signer.key_id
    assert b"PRIVATE KEY" in private_pem and b"ENCRYPTED" not in private_pem


def test_keys_that_cannot_be_used_are_refused_in_plain_words() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(AuditKeyError, match="une clé Ed25519 est attendue"):
        load_signing_key(ec_private)
    with pytest.raises(AuditKeyError, match="une clé Ed25519 est attendue"):
        load_public_keys(ec_public)
    with pytest.raises(AuditKeyError, match="illisible"):
        load_signing_key(b"pas une cle")
    with pytest.raises(AuditKeyError, match="aucune clé publique PEM"):
        load_public_keys(generate_key_pair()[0])


# ---- Any tampering, anywhere ----------------------------------------------------------------------------


CHAIN = written("router-0", 6)


@given(st.integers(0, len(CHAIN)), st.booleans())
def test_a_forged_record_inserted_anywhere_is_the_only_one_named(place: int, claims_router_key: bool) -> None:
    records = list(CHAIN)
    previous = records[place - 1] if place else None
    forged = orjson.loads(following(previous, FORGER) if previous else written("router-0", 1, FORGER)[0])
    if claims_router_key:
        forged["cle"] = ROUTER.key_id
        forged["hash"] = digest(forged)
    records.insert(place, orjson.dumps(forged))
    [only] = check(records)
    assert (only.position, only.sequence) == (f"0:{place}", place + 1)
    assert only.reason == ("signature invalide" if claims_router_key else UNKNOWN)


@given(
    st.integers(0, len(CHAIN) - 1),
    st.sampled_from(["idEvenement", "destinataire", "champsLivres", "horodatage", "hashPrecedent", "chaine", "cle"]),
    st.booleans(),
)
def test_any_edited_field_of_any_record_is_caught_there(index: int, name: str, rehash: bool) -> None:
    records = list(CHAIN)
    original = orjson.loads(records[index])[name]
    records[index] = edited(
        records[index], {name: [original, "x"] if name == "champsLivres" else f"{original}x"}, rehash
    )
    breaks = check(records)
    assert breaks and (breaks[0].position, breaks[0].sequence) == (f"0:{index}", index + 1)


@given(st.permutations(range(len(CHAIN))))
def test_any_reordering_is_caught_at_the_first_record_out_of_place(order: list[int]) -> None:
    breaks = check([CHAIN[i] for i in order])
    misplaced = next((pos for pos, i in enumerate(order) if i != pos), None)
    if misplaced is None:
        assert breaks == []
    else:
        assert (breaks[0].position, breaks[0].sequence) == (f"0:{misplaced}", order[misplaced] + 1)
        assert breaks[0].reason.endswith(MISSING)


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=6))
def test_the_signature_is_the_one_the_private_key_itself_makes(record: dict[str, str]) -> None:
    """libsodium signs the records; Ed25519 is deterministic, so OpenSSL's signature with the same key is the same."""
    key = Ed25519PrivateKey.generate()
    signature = base64.b64decode(AuditSigner(key).sign(record))
    assert signature == key.sign(canonical(record, "signature"))
    key.public_key().verify(signature, canonical(record, "signature"))
