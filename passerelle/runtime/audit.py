"""The audit keys on disk and the router's chain on the broker: loading, writing, resuming."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from passerelle.broker.access import KafkaAccess
from passerelle.broker.reader import partitions_of
from passerelle.broker.topics import AUDIT_TOPIC
from passerelle.core.audit import (
    AuditKeyError,
    AuditSigner,
    PublicKeys,
    generate_key_pair,
    head_of,
    load_public_keys,
    load_signing_key,
)
from passerelle.settings import Settings

SIGNING_FILE = "audit-signing.pem"
PUBLIC_FILE = "audit-public.pem"


def load_signer(settings: Settings) -> AuditSigner:
    """The router's signing key; without it the router must not start (an unsigned journal proves nothing)."""
    path = settings.audit_signing_key_file
    if path is None:
        raise AuditKeyError(
            "PASSERELLE_AUDIT_SIGNING_KEY_FILE n'est pas défini : le routeur signe chaque enregistrement d'audit "
            "et refuse de démarrer sans sa clé privée (créez-la avec « passerelle audit keygen --out DOSSIER »)"
        )
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"clé de signature d'audit illisible ({path}) : {exc.strerror or exc}") from None
    return AuditSigner(load_signing_key(pem, f"clé de signature d'audit {path}"))


def read_public_keys(paths: Iterable[Path]) -> list[Ed25519PublicKey]:
    """Every public key of the given PEM files (each may hold several: the current key and former ones)."""
    keys: list[Ed25519PublicKey] = []
    for path in paths:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise AuditKeyError(f"fichier de clés publiques illisible ({path}) : {exc.strerror or exc}") from None
        keys += load_public_keys(pem, f"clés publiques {path}")
    return keys


def trusted_keys(settings: Settings, signer: AuditSigner) -> PublicKeys:
    """The router's own key and the configured ones, so a chain signed before a rotation is still resumed."""
    extra = [settings.audit_public_key_file] if settings.audit_public_key_file else []
    return PublicKeys([signer.public_key, *read_public_keys(extra)])


class ChainResumeError(RuntimeError):
    """The end of the router's chain could not be read: starting anyway would break the chain."""


@dataclass(frozen=True)
class KeyPairFiles:
    signing: Path
    public: Path


def write_key_pair(folder: Path) -> KeyPairFiles:
    """A new key pair in ``folder``: the private key readable by its owner only; never overwrites a key."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = KeyPairFiles(folder / SIGNING_FILE, folder / PUBLIC_FILE)
    for path in (files.signing, files.public):
        if path.exists():
            raise AuditKeyError(f"{path} existe déjà : une clé n'est jamais écrasée, choisissez un autre dossier")
    private_pem, public_pem = generate_key_pair()
    # Created with its final mode: the key is never readable by others, even for an instant.
    fd = os.open(files.signing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    files.public.write_bytes(public_pem)
    files.public.chmod(0o644)
    return files


async def chain_head(
    access: KafkaAccess, chain_id: str, keys: PublicKeys, window: int = 2000, stall_s: float = 30.0
) -> tuple[str, int] | None:
    """The last authentic record of ``chain_id`` on the audit topic, read backwards a window at a time.

    A running instance finds it in the last window; a new instance reads the whole topic once, so only a broker
    that stops answering for ``stall_s`` fails the start, not the topic's length.
    """
    # Committed records only: a crashed router's unfinished batch is not the end of its chain.
    consumer = AIOKafkaConsumer(
        **access.aiokafka(), enable_auto_commit=False, group_id=None, isolation_level="read_committed"
    )
    try:  # a start that fails has opened connections too: the finally closes them
        await consumer.start()
        async with asyncio.timeout(stall_s):
            partitions = [TopicPartition(AUDIT_TOPIC, p) for p in sorted(await partitions_of(consumer, AUDIT_TOPIC, 0))]
            if not partitions:
                return None
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
        found: list[tuple[str, int]] = []
        for tp in partitions:
            high = await _true_end(consumer, tp, starts[tp], ends[tp], stall_s)
            while high > starts[tp]:
                low = max(starts[tp], high - window)
                head = head_of(await _read_range(consumer, tp, low, high, stall_s), chain_id, keys)
                if head is not None:
                    found.append(head)
                    break
                high = low
        # A chain's records share one key, hence one partition; were they spread, the furthest one wins.
        return max(found, key=lambda h: h[1]) if found else None
    except TimeoutError:
        raise ChainResumeError(_unreadable(chain_id, stall_s)) from None
    finally:
        await consumer.stop()


async def _true_end(consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, reported: int, stall_s: float) -> int:
    """The partition's real end. The embedded broker answers ListOffsets with the first offset of the last batch
    plus one (measured: 1 for a first batch of 10), so the last record is read rather than trusted."""
    if reported <= start:
        return reported
    consumer.seek(tp, reported - 1)
    end = reported
    async with asyncio.timeout(stall_s):
        while records := (await consumer.getmany(tp, timeout_ms=1000, max_records=500)).get(tp, []):
            end = max(end, records[-1].offset + 1)
    return end


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int, stall_s: float
) -> list[bytes]:
    consumer.seek(tp, low)
    values: list[bytes] = []
    async with asyncio.timeout(stall_s) as deadline:
        while (position := await consumer.position(tp)) < high:
            batches = await consumer.getmany(tp, timeout_ms=500, max_records=500)
            values += [r.value for r in batches.get(tp, ()) if r.offset < high and r.value is not None]
            if await consumer.position(tp) > position:
                deadline.reschedule(asyncio.get_running_loop().time() + stall_s)
    return values


def _unreadable(chain_id: str, stall_s: float) -> str:
    return (
        f"la fin de la chaîne d'audit {chain_id} n'a pas pu être lue sur {AUDIT_TOPIC} (broker muet depuis "
        f"{stall_s:.0f} s) : le routeur ne démarre pas une chaîne qui ne continuerait pas la précédente"
    )
