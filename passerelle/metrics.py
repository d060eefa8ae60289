"""Prometheus metrics shared by every service, one registry per service instance.

Labels stay bounded: service, partner, event type, outcome, error code,
topic and partition. Never an event id or a person.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from passerelle import __version__

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    """The metric families of one running service, registered in its own registry."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "passerelle_messages",
            "Messages traités, par partenaire émetteur ou destinataire, type d'événement et issue.",
            ["service", "direction", "partner", "event", "outcome"],
            registry=r,
        )
        self.processing = Histogram(
            "passerelle_batch_processing_seconds",
            "Durée de traitement d'un lot, de la réception à l'accusé du broker pour toutes ses sorties.",
            ["service"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.commit = Histogram(
            "passerelle_transaction_commit_seconds",
            "Durée de la validation d'une transaction (offsets et commit), incluse dans celle du lot.",
            ["service"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "passerelle_batch_size_messages",
            "Nombre de messages par lot consommé.",
            ["service"],
            buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.dlq = Counter(
            "passerelle_dlq_messages",
            "Messages envoyés en file d'erreurs (DLQ), par motif.",
            ["service", "partner", "reason"],
            registry=r,
        )
        self.end_to_end = Histogram(
            "passerelle_end_to_end_latency_seconds",
            "Délai entre ce_time de l'événement d'origine et sa livraison sur out.<partenaire>.",
            ["partner", "event"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "passerelle_consumer_lag_messages",
            "Retard du groupe de consommateurs, par topic et partition.",
            ["service", "topic", "partition"],
            registry=r,
        )
        self.last_message = Gauge(
            "passerelle_partner_last_message_timestamp_seconds",
            "Horodatage du dernier message reçu d'un partenaire.",
            ["partner"],
            registry=r,
        )
        self.silence_allowed = Gauge(
            "passerelle_partner_silence_max_seconds",
            "Silence le plus long admis pour un partenaire, selon son profil (alerte au-delà).",
            ["partner"],
            registry=r,
        )
        self.deliveries = Counter(
            "passerelle_deliveries",
            "Livraisons écrites par le routeur, par destinataire et type d'événement.",
            ["recipient", "event"],
            registry=r,
        )
        self.ready = Gauge(
            "passerelle_service_ready",
            "1 quand le service peut progresser : partitions reçues, broker joignable, pas de blocage.",
            ["service"],
            registry=r,
        )
        self.guarantee = Gauge(
            "passerelle_hop_guarantee",
            "1 pour la garantie de livraison du saut : transactions, ou ack_puis_commit (broker sans transactions).",
            ["service", "guarantee"],
            registry=r,
        )
        self.broker_reachable = Gauge(
            "passerelle_broker_reachable",
            "1 quand le service joint les leaders de ses partitions, 0 quand aucun broker ou un leader ne répond.",
            ["service"],
            registry=r,
        )
        self.under_replicated = Gauge(
            "passerelle_under_replicated_partitions",
            "Partitions des topics du service dont les réplicas synchronisés (ISR) sont moins que les réplicas.",
            ["service"],
            registry=r,
        )
        # The process's CPU, memory and descriptors and Python's garbage collector, as prometheus_client's default
        # registry has them: each service's registry is its own.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build = Info("passerelle_build", "Version de Passerelle.", registry=r)
        self.build.info({"version": __version__, "service": service})
        self.ready.labels(service).set(0)
