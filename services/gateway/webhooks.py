"""Standard Webhooks, the pure part: the signature, the message id, when to try again and when to stop.

Nothing here does I/O or reads a clock: the delivery loop (``services.gateway.delivery``) gives the time and
the receiver's answer, and gets back what to do next, so every decision is tested without Kafka or HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix every secret carries, not a secret
SIGNATURE_VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# A ce_id kept as it is in the webhook-id when it is this tame, so the partner and the operator quote the same id.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:#@-]{1,200}")


class SecretError(ValueError):
    """A webhook secret that is not ``whsec_`` followed by base64."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional, as in the reference libraries)."""
    try:
        key = base64.b64decode(secret.strip().removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError("secret de webhook attendu : whsec_ suivi de base64") from exc
    if len(key) < 24:
        raise SecretError("secret de webhook trop court : 24 octets au moins (whsec_ + 32 caractères base64)")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, webhook_id, timestamp, body),
    }


USER_AGENT = "Passerelle-Webhooks/1"
# CloudEvents' HTTP binary mode: the record's attributes as ce-* headers, so the receiver knows the event.
FORWARDED = {
    "ce_id": "ce-id",
    "ce_type": "ce-type",
    "ce_source": "ce-source",
    "ce_time": "ce-time",
    "correlation_id": "ce-correlationid",
}


def request_headers(
    secret: str, record: Mapping[str, str], place: tuple[str, int, int], body: bytes, now: float
) -> dict[str, str]:
    """One attempt's headers for the record with these Kafka headers at ``place`` (topic, partition, offset)."""
    topic, partition, offset = place
    ident = webhook_id(record.get("ce_id"), topic, partition, offset)
    return {
        **{http: record[kafka] for kafka, http in FORWARDED.items() if record.get(kafka)},
        "content-type": record.get("content-type") or "application/octet-stream",
        "user-agent": USER_AGENT,
        **signed_headers(secret, ident, int(now), body),
    }


def webhook_id(ce_id: str | None, topic: str, partition: int, offset: int) -> str:
    """The same id at every attempt and after every restart: the record's ce_id, else its place in the log."""
    if ce_id and _PLAIN_ID.fullmatch(ce_id):
        return f"msg_{ce_id}"
    origin = ce_id if ce_id else f"{topic}/{partition}/{offset}"
    return f"msg_{hashlib.sha256(origin.encode()).hexdigest()[:32]}"


def delivered(status: int | None) -> bool:
    """Only a 2xx is a delivery; anything else (a refusal too) is tried again, never skipped."""
    return status is not None and 200 <= status < 300


def retry_after_s(value: str | None, now: float) -> float | None:
    """A receiver's ``Retry-After`` (seconds or an HTTP date) in seconds from ``now``; None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now) if moment.tzinfo is not None else None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff from ``first_s``, doubled at each failure up to ``cap_s``; ``paused_probe_s`` once paused."""

    first_s: float = 1.0
    cap_s: float = 300.0
    paused_probe_s: float = 3600.0

    def delay_s(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (from 1)."""
        exponent = min(max(failures - 1, 0), 60)  # bounded: 2**60 s is already past any cap
        return float(min(self.cap_s, self.first_s * 2.0**exponent))


@dataclass(frozen=True)
class Outage:
    """The failures in a row of one partition's head record: since when (wall clock, s) and how many."""

    since: float
    failures: int


@dataclass(frozen=True)
class Retry:
    """Try the same record again at ``at`` (wall clock, s); ``paused`` once past the outage the profile allows."""

    outage: Outage
    at: float
    paused: bool


def after_failure(
    outage: Outage | None, now: float, budget_s: float, policy: RetryPolicy, asked_s: float | None = None
) -> Retry:
    """What follows a failed attempt: the same record later, sooner than the cap, or paused past the budget.

    A receiver's ``Retry-After`` (``asked_s``) is honoured up to the cap, never beyond: it must not stall a partner
    longer than the backoff would.
    """
    current = Outage(now, 1) if outage is None else Outage(outage.since, outage.failures + 1)
    if now - current.since >= budget_s:
        return Retry(current, now + policy.paused_probe_s, paused=True)
    wait = policy.delay_s(current.failures)
    if asked_s is not None:
        wait = min(max(wait, asked_s), policy.cap_s)
    return Retry(current, now + wait, paused=False)


def new_secret() -> str:
    """A fresh ``whsec_`` secret of 32 random bytes, as the reference libraries make them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
