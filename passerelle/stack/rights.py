"""Who may do what on Kafka: each partner's rights from its profile, each service's from what its hop declares.

A partner writes its own ``in.<partner>`` and reads its own ``out.<partner>`` and ``feedback.<partner>``, in
consumer groups named after it; nothing else. A service reads and writes exactly the topics of its hop (the
outputs are also read at start, to remember the inputs already done), in its own consumer group and
transactional ids. Only the router's hop writes ``audit.deliveries``, so only the router may. The operator
(``ADMIN``) is a super user of the cluster and needs no ACL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from passerelle.broker import topics
from passerelle.broker.access import KafkaAccess
from passerelle.broker.acl import ADMIN, CLUSTER, ClusterRights, Grant, Operation, Pattern, Resource, grants
from passerelle.broker.apache import KafkaCluster
from passerelle.broker.clients import PROBE_PREFIX
from passerelle.runtime.hop import HopSpec, group_of, transactional_prefix
from passerelle.settings import Settings
from passerelle.stack.deployables import SERVICES, hop_spec_of

R, W, D = Operation.READ, Operation.WRITE, Operation.DESCRIBE


def partner_group_prefix(partner: str) -> str:
    """A partner's consumer groups must start with its id and a dot (``region-24.suivi``)."""
    return f"{partner}."


def partner_grants(partner: str) -> set[Grant]:
    return (
        grants(partner, Resource.TOPIC, [topics.inbound(partner)], W, D)
        | grants(partner, Resource.TOPIC, [topics.outbound(partner), topics.feedback(partner)], R, D)
        | grants(partner, Resource.GROUP, [partner_group_prefix(partner)], R, D, pattern=Pattern.PREFIXED)
    )


def service_grants(principal: str, spec: HopSpec) -> set[Grant]:
    read = {*spec.inputs, *spec.outputs}
    written = {*spec.outputs, *spec.publishes}
    return (
        grants(principal, Resource.TOPIC, sorted(read), R)
        | grants(principal, Resource.TOPIC, sorted(written), W)
        | grants(principal, Resource.TOPIC, sorted(read | written), D)
        | grants(principal, Resource.GROUP, [group_of(spec.service)], R, D)
        | grants(
            principal, Resource.TRANSACTIONAL_ID, [transactional_prefix(spec.service)], W, D, pattern=Pattern.PREFIXED
        )
        # The probe of what the broker can do: one throwaway group and transactional id per start.
        | grants(principal, Resource.TOPIC, [topics.PROBE_TOPIC], R, W, D)
        | grants(principal, Resource.GROUP, [PROBE_PREFIX], R, pattern=Pattern.PREFIXED)
        | grants(principal, Resource.TRANSACTIONAL_ID, [PROBE_PREFIX], W, D, pattern=Pattern.PREFIXED)
        # The brokers' message.max.bytes, which bounds what a hop produces.
        | grants(principal, Resource.CLUSTER, [CLUSTER], Operation.DESCRIBE_CONFIGS)
    )


def wanted_grants(partners: Iterable[str], specs: Mapping[str, HopSpec]) -> set[Grant]:
    """The whole policy: every partner's rights and every service's (``specs`` by service principal)."""
    wanted: set[Grant] = set()
    for partner in partners:
        wanted |= partner_grants(partner)
    for principal, spec in specs.items():
        wanted |= service_grants(principal, spec)
    return wanted


def service_specs(settings: Settings) -> dict[str, HopSpec]:
    """Every deployable service's hop, by the principal it runs as (its deployable name)."""
    return {name: hop_spec_of(name, settings) for name in SERVICES}


def principals(partners: Iterable[str]) -> list[str]:
    """Every principal that needs a credential: the operator, the services, the partners."""
    return [ADMIN, *SERVICES, *partners]


def provision(cluster: KafkaCluster, partners: Iterable[str], settings: Settings) -> dict[str, KafkaAccess]:
    """A local cluster made ready as production is: a SCRAM user per service and partner, the ACLs of the
    policy and nothing more. Returns each service's own access, by service name."""
    partners = list(partners)
    services = {name: cluster.user(name) for name in SERVICES}
    for partner in partners:
        cluster.user(partner)
    rights = ClusterRights(cluster.access)
    rights.apply(rights.plan(wanted_grants(partners, service_specs(settings))))
    return services
