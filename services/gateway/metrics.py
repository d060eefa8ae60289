"""The gateway's Prometheus metrics, in a registry of its own: requests, refusals and latency per partner and route,
and the webhook deliveries per partner (deliveries, failures, retries, backlog and its age, pauses).

Labels stay bounded: a partner is a profile id (« anonyme » before the token is read), a route is a template.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        self.webhook_deliveries = Counter(
            "passerelle_gateway_webhook_deliveries",
            "Messages livrés au webhook du partenaire (réponse 2xx), par partenaire et flux (out, feedback).",
            ["partner", "flow"],
            registry=self.registry,
        )
        self.webhook_failures = Counter(
            "passerelle_gateway_webhook_failures",
            "Tentatives de livraison en échec, par partenaire et motif (code HTTP, reseau, delai).",
            ["partner", "reason"],
            registry=self.registry,
        )
        self.webhook_retries = Counter(
            "passerelle_gateway_webhook_retries",
            "Nouvelles tentatives de livraison d'un message déjà refusé ou perdu.",
            ["partner"],
            registry=self.registry,
        )
        self.webhook_backlog = Gauge(
            "passerelle_gateway_webhook_backlog_messages",
            "Messages pas encore livrés au webhook du partenaire (retard du groupe de livraison).",
            ["partner"],
            registry=self.registry,
        )
        self.webhook_backlog_age = Gauge(
            "passerelle_gateway_webhook_backlog_age_seconds",
            "Âge du plus ancien message pas encore livré au webhook (0 quand rien n'attend).",
            ["partner"],
            registry=self.registry,
        )
        self.webhook_failing = Gauge(
            "passerelle_gateway_webhook_failing_seconds",
            "Depuis combien de secondes le webhook du partenaire échoue sans interruption (0 s'il répond).",
            ["partner"],
            registry=self.registry,
        )
        self.webhook_outage_allowed = Gauge(
            "passerelle_gateway_webhook_outage_allowed_seconds",
            "Panne du récepteur que le profil du partenaire couvre (panne_max_heures), en secondes.",
            ["partner"],
            registry=self.registry,
        )
        self.webhook_paused = Gauge(
            "passerelle_gateway_webhook_paused",
            "1 quand la livraison au partenaire est suspendue (panne plus longue que son profil ne le permet).",
            ["partner"],
            registry=self.registry,
        )
