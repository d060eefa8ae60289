"""The delivery audit chain, beside ``test_audit_signed.py`` (records, signatures, keys, forgeries):
which journals verify at all, every kind of unreadable record, and what commit and rollback keep."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.audit import GENESIS, AuditChain, AuditSigner, ChainBreak, VerifyReport, digest, verify
from passerelle.core.envelope import format_time

NOW = datetime(2026, 3, 2, 8, 15, 2, 113000, tzinfo=UTC)
SIGNER = AuditSigner(Ed25519PrivateKey.generate())


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


def written(chain_id: str, count: int) -> list[bytes]:
    chain = AuditChain(chain_id, SIGNER)
    return [deliver(chain, n) for n in range(count)]


def checked(records: list[bytes]) -> VerifyReport:
    return verify([(f"0:{i}", raw) for i, raw in enumerate(records)], [SIGNER.public_key])


def link(raw: bytes) -> tuple[int, str]:
    record = orjson.loads(raw)
    return record["sequence"], record["hashPrecedent"]


def test_the_digest_ignores_key_order_its_own_hash_and_the_signature() -> None:
    record = orjson.loads(written("router-a", 1)[0])
    reordered = dict(reversed(list(record.items())))
    assert digest(reordered) == digest(record) == digest({**record, "hash": "autre", "signature": "autre"})
    assert digest({**record, "destinataire": "region-53"}) != digest(record)


def test_an_empty_journal_verifies() -> None:
    report = checked([])
    assert report.ok and (report.records, report.chains, report.breaks) == (0, {}, [])


@pytest.mark.parametrize(
    "garbage",
    [b"{pas du json", b"", b"[]", b'{"sequence": 1}', b'{"chaine": "router-a"}', b'{"chaine": "a", "sequence": "x"}'],
    ids=["json-casse", "vide", "liste", "sans-chaine", "sans-sequence", "sequence-texte"],
)
def test_any_unreadable_record_is_named_and_the_chain_around_it_still_verifies(garbage: bytes) -> None:
    records = written("router-a", 2)
    report = checked([records[0], garbage, records[1]])
    assert report.breaks == [ChainBreak("0:1", None, None, "enregistrement illisible")]
    assert (report.records, report.chains, report.last_sequence) == (3, {"router-a": 2}, {"router-a": 2})


# ---- Which journals verify ------------------------------------------------------------------------------


CHAIN = written("router-a", 6)
# Two chains for the interleavings, written once: signing is the costly part.
CHAIN_A, CHAIN_B = written("router-a", 4), written("router-b", 4)


@given(st.lists(st.integers(0, len(CHAIN) - 1), max_size=8))
def test_a_journal_verifies_exactly_when_it_is_the_chain_or_its_beginning(picked: list[int]) -> None:
    # Any removal, repetition or reordering is named; a cut tail is not (nothing after it disagrees).
    report = checked([CHAIN[i] for i in picked])
    assert report.ok == (picked == list(range(len(picked))))
    if not report.ok:
        first = report.first_break
        assert first is not None and first.chain == "router-a"
        wrong = next(pos for pos, i in enumerate(picked) if i != pos)
        assert (first.position, first.sequence) == (f"0:{wrong}", picked[wrong] + 1)


def test_two_swapped_records_are_named_where_the_order_breaks() -> None:
    records = list(CHAIN)
    records[1], records[3] = records[3], records[1]
    missing = "enregistrement manquant ou déplacé"
    assert checked(records).breaks == [
        ChainBreak("0:1", "router-a", 4, f"séquence 4 au lieu de 2 : {missing}"),
        ChainBreak("0:2", "router-a", 3, f"séquence 3 au lieu de 5 : {missing}"),
        ChainBreak("0:3", "router-a", 2, f"séquence 2 au lieu de 4 : {missing}"),
        ChainBreak("0:4", "router-a", 5, f"séquence 5 au lieu de 3 : {missing}"),
    ]


@given(st.permutations([True] * 4 + [False] * 4))
def test_any_interleaving_of_two_intact_chains_verifies(picks: list[bool]) -> None:
    a, b = iter(CHAIN_A), iter(CHAIN_B)
    report = checked([next(a) if pick else next(b) for pick in picks])
    assert report.ok and report.chains == {"router-a": 4, "router-b": 4}
    assert report.last_sequence == {"router-a": 4, "router-b": 4}


@given(st.permutations([True] * 4 + [False] * 4), st.integers(0, 2))
def test_a_record_missing_from_one_of_two_interleaved_chains_blames_that_chain_only(
    picks: list[bool], missing: int
) -> None:
    a, b = iter(CHAIN_A), iter(CHAIN_B)
    journal = [next(a) if pick else next(b) for pick in picks]
    journal.remove(CHAIN_A[missing])
    breaks = checked(journal).breaks
    assert [(x.chain, x.sequence) for x in breaks] == [("router-a", missing + 2)]


# ---- Commit and rollback ---------------------------------------------------------------------------------


def test_records_rolled_back_are_written_again_with_the_same_sequence_numbers() -> None:
    chain = AuditChain("router-a", SIGNER)
    committed = [deliver(chain, 0), deliver(chain, 1)]
    chain.commit()
    lost = [deliver(chain, 2), deliver(chain, 3)]  # the batch's outputs were not acknowledged
    chain.rollback()
    again = [deliver(chain, 2), deliver(chain, 3)]  # the same batch, consumed again
    assert [link(r) for r in again] == [link(r) for r in lost]
    assert [link(r)[0] for r in again] == [3, 4]
    assert checked([*committed, *again]).ok  # no fork: one chain, 1 to 4


def test_a_rollback_does_not_undo_what_was_committed() -> None:
    chain = AuditChain("router-a", SIGNER)
    committed = [deliver(chain, 0), deliver(chain, 1)]
    chain.commit()
    chain.rollback()
    chain.rollback()
    following = deliver(chain, 2)
    assert link(following) == (3, orjson.loads(committed[1])["hash"])
    assert chain.head == (orjson.loads(committed[1])["hash"], 2)  # the committed head; ``following`` is not yet
    assert checked([*committed, following]).ok


def test_a_rollback_before_any_commit_returns_to_where_the_chain_started() -> None:
    fresh = AuditChain("router-a", SIGNER)
    deliver(fresh, 0)
    fresh.rollback()
    assert link(deliver(fresh, 1)) == (1, GENESIS)
    resumed = AuditChain("router-a", SIGNER, last_hash="f" * 64, last_sequence=41)
    deliver(resumed, 0)
    resumed.rollback()
    assert link(deliver(resumed, 1)) == (42, "f" * 64)


def test_after_a_rollback_another_batch_takes_the_same_place() -> None:
    chain = AuditChain("router-a", SIGNER)
    first = deliver(chain, 0)
    chain.commit()
    lost = deliver(chain, 1)
    chain.rollback()
    other = deliver(chain, 9, recipient="region-53")
    assert link(other) == link(lost)
    assert orjson.loads(other)["idEvenement"] == "evt-9"
    assert checked([first, other]).ok
    assert checked([first, lost, other]).first_break == ChainBreak(
        "0:2", "router-a", 2, "séquence 2 au lieu de 3 : enregistrement manquant ou déplacé"
    )  # the lost record was never acknowledged, so never in the journal; were it there, verify would say so
