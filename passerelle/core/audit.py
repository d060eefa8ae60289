"""The delivery audit: one record per delivery, each carrying the hash of the one before.

Rewriting, removing or reordering a record breaks the chain at that point,
which ``passerelle audit verify`` reports. Each router instance writes its
own chain (``chaine``): instances scaled out run concurrently, and one chain
per writer keeps "the previous record" unambiguous without a global lock.
The chain advances only when the batch's outputs are acknowledged, so a
batch consumed again after a failure writes the same links, not a fork.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from passerelle.core.envelope import format_time

GENESIS = "0" * 64


def digest(record: dict[str, Any]) -> str:
    """SHA-256 over the record without its own hash, keys sorted, so any writer computes the same."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class AuditChain:
    def __init__(self, chain_id: str, last_hash: str = GENESIS, last_sequence: int = 0) -> None:
        self.chain_id = chain_id
        self._committed = (last_hash, last_sequence)
        self._hash, self._sequence = self._committed

    def append(
        self,
        *,
        event_id: str,
        event_type: str,
        sender: str,
        recipient: str,
        fields: list[str],
        delivery_id: str,
        now: datetime | None = None,
    ) -> bytes:
        record: dict[str, Any] = {
            "chaine": self.chain_id,
            "sequence": self._sequence + 1,
            "idEvenement": event_id,
            "typeEvenement": event_type,
            "expediteur": sender,
            "destinataire": recipient,
            "champsLivres": fields,
            "idLivraison": delivery_id,
            "horodatage": format_time(now or datetime.now(UTC)),
            "hashPrecedent": self._hash,
        }
        record["hash"] = digest(record)
        self._hash, self._sequence = record["hash"], record["sequence"]
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)

    def commit(self) -> None:
        self._committed = (self._hash, self._sequence)

    def rollback(self) -> None:
        self._hash, self._sequence = self._committed


@dataclass(frozen=True)
class ChainBreak:
    position: str
    chain: str | None
    sequence: int | None
    reason: str


@dataclass
class VerifyReport:
    records: int = 0
    chains: dict[str, int] = field(default_factory=dict)
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> ChainBreak | None:
        return self.breaks[0] if self.breaks else None


def verify(records: Iterable[tuple[str, bytes]]) -> VerifyReport:
    """Recompute every chain; a chain's first break is reported (later links of it cannot be trusted)."""
    report = VerifyReport()
    last: dict[str, tuple[str, int]] = {}
    broken: set[str] = set()
    for position, raw in records:
        report.records += 1
        try:
            record = orjson.loads(raw)
            chain, sequence = str(record["chaine"]), int(record["sequence"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            report.breaks.append(ChainBreak(position, None, None, "enregistrement illisible"))
            continue
        report.chains[chain] = report.chains.get(chain, 0) + 1
        if chain in broken:
            continue
        expected_hash, expected_seq = last.get(chain, (GENESIS, 0))
        reason = None
        if record.get("hash") != digest(record):
            reason = "contenu modifié : le hash ne correspond plus"
        elif sequence != expected_seq + 1:
            reason = f"séquence {sequence} au lieu de {expected_seq + 1} : enregistrement manquant ou déplacé"
        elif record.get("hashPrecedent") != expected_hash:
            reason = "hash précédent différent : chaîne rompue"
        if reason:
            report.breaks.append(ChainBreak(position, chain, sequence, reason))
            broken.add(chain)
            continue
        last[chain] = (record["hash"], sequence)
    return report
