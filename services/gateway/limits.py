"""Rate limits per partner: a token bucket each, in this replica's memory.

With N replicas behind a load balancer a partner may reach N times the rate; that is accepted for this first
slice (a shared limit needs a shared counter, which the gateway does not have yet).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.gateway.auth import Refused


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimits:
    rate_per_s: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, partner: str) -> float | None:
        """Take one request from ``partner``'s bucket: None when allowed, else the seconds to wait."""
        now = self.clock()
        bucket = self._buckets.setdefault(partner, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate_per_s

    def admit(self, partner: str) -> None:
        """Take one request from ``partner``'s bucket, or refuse it with ``429`` and when to come back."""
        wait = self.take(partner)
        if wait is not None:
            retry = self.retry_after(wait)
            raise Refused(
                429, "trop_de_requetes", f"trop de requêtes : réessayez dans {retry} s", {"Retry-After": retry}
            )

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The ``Retry-After`` header: whole seconds, at least one."""
        return str(max(1, math.ceil(wait_s)))
