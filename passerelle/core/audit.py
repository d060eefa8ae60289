"""The delivery audit: one signed record per delivery, each carrying the hash of the one before.

Each record is signed with the router's Ed25519 key over its canonical bytes
(keys sorted, without the signature), so a writer without the key can neither
forge a record nor extend a chain; the hash chain (``hashPrecedent``) makes a
removed or reordered record visible. ``verify`` needs the public keys only.

Each router instance writes its own chain (``chaine``, its stable instance
name): instances scaled out run concurrently, and one chain per writer keeps
"the previous record" unambiguous without a global lock. A restarted router
resumes its chain from its last authentic record (``head_of``). The chain
advances only when the batch's outputs are acknowledged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.signing import SigningKey

from passerelle.core.envelope import format_time

GENESIS = "0" * 64
HASH = "hash"
SIGNATURE = "signature"
KEY = "cle"

_PUBLIC_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


class AuditKeyError(ValueError):
    """An audit key that cannot be used; the message says which and why, in French."""


def canonical(record: dict[str, Any], *without: str) -> bytes:
    """The record's bytes as signed and hashed: keys sorted, compact, UTF-8 (what any writer reproduces)."""
    # Copied only when there is something to leave out: a record being built has no hash or signature yet.
    body = {k: v for k, v in record.items() if k not in without} if any(k in record for k in without) else record
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def digest(record: dict[str, Any]) -> str:
    """SHA-256 over the record without its own hash and signature."""
    return hashlib.sha256(canonical(record, HASH, SIGNATURE)).hexdigest()


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, in hex (``openssl pkey -pubin -outform DER | sha256sum``)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as PEM: (private key in PKCS#8, public key)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def load_signing_key(pem: bytes, source: str = "clé de signature") -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"{source} illisible : une clé privée PEM non chiffrée est attendue ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{source} : une clé Ed25519 est attendue, pas {type(key).__name__}")
    return key


def load_public_keys(pem: bytes, source: str = "clés publiques") -> list[Ed25519PublicKey]:
    """Every ``PUBLIC KEY`` block of a PEM text: the current key and the former ones kept for verification."""
    blocks = _PUBLIC_PEM.findall(pem)
    if not blocks:
        raise AuditKeyError(f"{source} : aucune clé publique PEM (« -----BEGIN PUBLIC KEY----- »)")
    keys: list[Ed25519PublicKey] = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block)
        except ValueError as exc:
            raise AuditKeyError(f"{source} : clé publique illisible ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditKeyError(f"{source} : une clé Ed25519 est attendue, pas {type(key).__name__}")
        keys.append(key)
    return keys


class AuditSigner:
    """The router's private key: signs the records of its chain."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        seed = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        # Signed by libsodium: 17 µs a record where OpenSSL 3 takes 27, the router's largest cost. Ed25519 is
        # deterministic, so the signature is the same bytes either way (tested).
        self._key = SigningKey(seed)
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, record: dict[str, Any]) -> str:
        return base64.b64encode(self._key.sign(canonical(record, SIGNATURE)).signature).decode()


class AuditChain:
    def __init__(self, chain_id: str, signer: AuditSigner, last_hash: str = GENESIS, last_sequence: int = 0) -> None:
        self.chain_id = chain_id
        self.signer = signer
        self.resume(last_hash, last_sequence)

    @property
    def head(self) -> tuple[str, int]:
        """Hash and sequence of the last committed record (``GENESIS``, 0 for a new chain)."""
        return self._committed

    def resume(self, last_hash: str, last_sequence: int) -> None:
        """Continue after the given record: the last authentic one of this chain, read at start."""
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
        recorded_at: str | None = None,
    ) -> bytes:
        """The next record, signed, as the audit topic carries it; ``recorded_at`` is ``format_time`` of now when
        the caller keeps a clock (``MillisecondClock``)."""
        record: dict[str, Any] = {
            "chaine": self.chain_id,
            "sequence": self._sequence + 1,
            "idEvenement": event_id,
            "typeEvenement": event_type,
            "expediteur": sender,
            "destinataire": recipient,
            "champsLivres": fields,
            "idLivraison": delivery_id,
            "horodatage": recorded_at or format_time(datetime.now(UTC)),
            "hashPrecedent": self._hash,
            KEY: self.signer.key_id,
        }
        record[HASH] = digest(record)
        record[SIGNATURE] = self.signer.sign(record)
        self._hash, self._sequence = record[HASH], record["sequence"]
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)

    def commit(self) -> None:
        self._committed = (self._hash, self._sequence)

    def rollback(self) -> None:
        self._hash, self._sequence = self._committed


class PublicKeys:
    """The public keys a verifier trusts, by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey]) -> None:
        self.by_id = {key_id(k): k for k in keys}

    def __bool__(self) -> bool:
        return bool(self.by_id)

    def problem(self, record: dict[str, Any]) -> str | None:
        """Why ``record`` is not authentic (signed by a trusted key over its content), or None."""
        signature, kid = record.get(SIGNATURE), record.get(KEY)
        if not isinstance(signature, str) or not isinstance(kid, str):
            return "signature absente"
        public_key = self.by_id.get(kid)
        if public_key is None:
            return f"clé inconnue ({kid[:16]}…) : enregistrement non signé par le routeur"
        if record.get(HASH) != digest(record):
            return "contenu modifié : le hash ne correspond plus"
        try:
            public_key.verify(base64.b64decode(signature, validate=True), canonical(record, SIGNATURE))
        except (InvalidSignature, binascii.Error, ValueError):
            return "signature invalide"
        return None


def _parse(raw: bytes) -> tuple[dict[str, Any], str, int] | None:
    try:
        record = orjson.loads(raw)
        return record, str(record["chaine"]), int(record["sequence"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def head_of(records: Sequence[bytes], chain_id: str, keys: PublicKeys) -> tuple[str, int] | None:
    """Hash and sequence of the last authentic record of ``chain_id`` among ``records`` (oldest first).

    Forged records are passed over, so the router never links its next record to one.
    """
    for raw in reversed(records):
        parsed = _parse(raw)
        if parsed is None or parsed[1] != chain_id:
            continue
        record, _, sequence = parsed
        if keys.problem(record) is None:
            return str(record[HASH]), sequence
    return None


@dataclass(frozen=True)
class ChainBreak:
    position: str
    chain: str | None
    sequence: int | None
    reason: str


@dataclass
class VerifyReport:
    records: int = 0
    # Records per chain, and the last authentic sequence of each.
    chains: dict[str, int] = field(default_factory=dict)
    last_sequence: dict[str, int] = field(default_factory=dict)
    # Authentic records per key id: which key signed what (every trusted key listed, even at 0).
    signed_by: dict[str, int] = field(default_factory=dict)
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> ChainBreak | None:
        return self.breaks[0] if self.breaks else None


def verify(records: Iterable[tuple[str, bytes]], public_keys: Iterable[Ed25519PublicKey]) -> VerifyReport:
    """Check every record's signature and every chain's links; each forged or broken record is named, in order.

    A record that is not authentic is named and left out of its chain, so the router's next real record still
    links to the last authentic one and is not blamed. When named records stand where authentic ones were
    (modified in place), the authentic record after them is not named again for the gap they account for. An
    authentic record that does not follow its chain's last authentic record (missing, moved or replayed) is
    named, and the chain goes on from it.
    """
    keys = PublicKeys(public_keys)
    report = VerifyReport(signed_by=dict.fromkeys(keys.by_id, 0))
    last: dict[str, tuple[str, int]] = {}
    # Records named as not authentic since each chain's last authentic one: the places they took.
    named: dict[str, int] = {}
    for position, raw in records:
        report.records += 1
        parsed = _parse(raw)
        if parsed is None:
            report.breaks.append(ChainBreak(position, None, None, "enregistrement illisible"))
            continue
        record, chain, sequence = parsed
        report.chains[chain] = report.chains.get(chain, 0) + 1
        problem = keys.problem(record)
        if problem:
            report.breaks.append(ChainBreak(position, chain, sequence, problem))
            named[chain] = named.get(chain, 0) + 1
            continue
        report.signed_by[record[KEY]] += 1
        expected_hash, expected_seq = last.get(chain, (GENESIS, 0))
        replaced = named.pop(chain, 0)
        links = sequence == expected_seq + 1 and record.get("hashPrecedent") == expected_hash
        if not links and not (replaced and sequence == expected_seq + 1 + replaced):
            if sequence != expected_seq + 1:
                reason = f"séquence {sequence} au lieu de {expected_seq + 1} : enregistrement manquant ou déplacé"
            else:
                reason = "hash précédent différent : enregistrement manquant ou déplacé"
            report.breaks.append(ChainBreak(position, chain, sequence, reason))
        last[chain] = (record[HASH], sequence)
        report.last_sequence[chain] = sequence
    return report
