"""The gateway's Prometheus metrics, in a registry of its own: requests, refusals and latency per partner and route.

Labels stay bounded: a partner is a profile id (« anonyme » before the token is read), a route is a template.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from passerelle.metrics import LATENCY_BUCKETS

ANONYMOUS = "anonyme"


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "passerelle_gateway_requests",
            "Requêtes reçues par l'API des partenaires, par partenaire, route et code de réponse.",
            ["partner", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "passerelle_gateway_errors",
            "Requêtes refusées ou en échec, par partenaire, route et motif.",
            ["partner", "route", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "passerelle_gateway_request_seconds",
            "Durée d'une requête, de sa réception à la réponse (publication comprise).",
            ["partner", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.items = Counter(
            "passerelle_gateway_items",
            "Éléments reçus par la passerelle (messages, lignes CSV, sessions LHEO), acceptés ou refusés.",
            ["partner", "outcome"],
            registry=self.registry,
        )
