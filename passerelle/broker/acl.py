"""Kafka access rights as data: what a principal may do, the difference with a cluster's, and making it so.

A ``Grant`` is one ALLOW ACL. Passerelle never writes DENY ACLs: with ``allow.everyone.if.no.acl.found=false``
anything not granted is refused, so the set of grants is the whole policy and can be compared as a set.
aiokafka's admin client has no ACL or SCRAM calls; confluent-kafka's ``AdminClient`` has both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

# confluent-kafka re-exports these without declaring it, so mypy wants the modules that define them.
from confluent_kafka.admin._acl import AclBinding, AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from passerelle.broker.access import KafkaAccess

CLUSTER = "kafka-cluster"  # the one name of Kafka's cluster resource
# The operator and the brokers: Kafka's super users (deploy/kafka/broker.properties), whom no ACL limits.
ADMIN = "admin"
BROKER = "broker"
SCRAM_ITERATIONS = 8192
_TIMEOUT_S = 30.0


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    TRANSACTIONAL_ID = "transactional_id"
    CLUSTER = "cluster"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    DESCRIBE = "DESCRIBE"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    CREATE = "CREATE"


_RESOURCE_TYPES = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
    Resource.CLUSTER: ResourceType.BROKER,  # librdkafka's name for Kafka's CLUSTER resource type (4)
}
_PATTERNS = {Pattern.LITERAL: ResourcePatternType.LITERAL, Pattern.PREFIXED: ResourcePatternType.PREFIXED}


def principal(name: str) -> str:
    return f"User:{name}"


@dataclass(frozen=True, order=True)
class Grant:
    """``principal`` may do ``operation`` on the resources of ``resource`` type named (or prefixed) ``name``."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def binding(self) -> AclBinding:
        return AclBinding(
            _RESOURCE_TYPES[self.resource],
            self.name,
            _PATTERNS[self.pattern],
            self.principal,
            "*",
            AclOperation[self.operation.value],
            AclPermissionType.ALLOW,
        )

    @classmethod
    def of(cls, binding: AclBinding) -> Grant | None:
        """The grant an ACL of the cluster says, or None for one Passerelle does not write (DENY, host-bound)."""
        resources = {v: k for k, v in _RESOURCE_TYPES.items()}
        patterns = {v: k for k, v in _PATTERNS.items()}
        if (
            binding.permission_type != AclPermissionType.ALLOW
            or binding.host != "*"
            or binding.restype not in resources
            or binding.resource_pattern_type not in patterns
            or AclOperation(binding.operation).name not in Operation.__members__
        ):
            return None
        return cls(
            binding.principal,
            resources[binding.restype],
            binding.name,
            patterns[binding.resource_pattern_type],
            Operation(AclOperation(binding.operation).name),
        )

    @property
    def target(self) -> str:
        """``topic:in.region-24``, or ``group:region-24.*`` for a prefix."""
        star = "*" if self.pattern is Pattern.PREFIXED else ""
        return f"{self.resource.value}:{self.name}{star}"

    def __str__(self) -> str:
        return f"{self.principal} {self.operation.value} {self.target}"


def grants(who: str, resource: Resource, names: Iterable[str], *operations: Operation,
           pattern: Pattern = Pattern.LITERAL) -> set[Grant]:  # fmt: skip
    """Every ``operation`` on every resource of ``names`` for the principal ``who``."""
    return {Grant(principal(who), resource, name, pattern, op) for name in names for op in operations}


@dataclass(frozen=True)
class AclPlan:
    """What must be added to and removed from a cluster's ACLs so they are exactly the wanted ones."""

    add: tuple[Grant, ...]
    remove: tuple[Grant, ...]
    # ACLs of the cluster that are not grants Passerelle writes (DENY, bound to a host): shown, never touched.
    foreign: tuple[str, ...] = ()

    @classmethod
    def between(cls, wanted: Iterable[Grant], current: Iterable[Grant], foreign: Iterable[str] = ()) -> AclPlan:
        wanted_set, current_set = set(wanted), set(current)
        return cls(tuple(sorted(wanted_set - current_set)), tuple(sorted(current_set - wanted_set)),
                   tuple(sorted(foreign)))  # fmt: skip

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove


class ClusterRights:
    """A cluster's ACLs and SCRAM credentials, through an administrator's access."""

    def __init__(self, access: KafkaAccess) -> None:
        self._admin = AdminClient(access.librdkafka())

    def current(self) -> tuple[set[Grant], list[str]]:
        """The cluster's grants, and the ACLs it holds that are not grants (as text)."""
        anything = cast(str, None)  # a filter's None matches any name, principal or host (the stubs say str)
        everything = AclBindingFilter(
            ResourceType.ANY, anything, ResourcePatternType.ANY, anything, anything, AclOperation.ANY,
            AclPermissionType.ANY,
        )  # fmt: skip
        bindings = self._admin.describe_acls(everything, request_timeout=_TIMEOUT_S).result()
        found: set[Grant] = set()
        foreign: list[str] = []
        for binding in bindings:
            grant = Grant.of(binding)
            if grant is None:
                foreign.append(str(binding))
            else:
                found.add(grant)
        return found, foreign

    def plan(self, wanted: Iterable[Grant]) -> AclPlan:
        current, foreign = self.current()
        return AclPlan.between(wanted, current, foreign)

    def apply(self, plan: AclPlan) -> None:
        """Add first, then remove: a right moving from one pattern to another is never missing in between."""
        if plan.add:
            for future in self._admin.create_acls([g.binding() for g in plan.add], request_timeout=_TIMEOUT_S).values():
                future.result()
        if plan.remove:
            filters = [_exactly(g) for g in plan.remove]
            for future in self._admin.delete_acls(filters, request_timeout=_TIMEOUT_S).values():
                future.result()

    def set_passwords(self, passwords: Mapping[str, str]) -> None:
        """Create or replace the SCRAM-SHA-512 credential of each user."""
        if not passwords:
            return
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(user, info, password.encode()) for user, password in passwords.items()
        ]
        for user, future in self._admin.alter_user_scram_credentials(upserts).items():
            try:
                future.result()
            except KafkaException as error:
                raise RuntimeError(f"identifiant SCRAM de {user} refusé : {error.args[0]}") from None


def _exactly(grant: Grant) -> AclBindingFilter:
    binding = grant.binding()
    return AclBindingFilter(binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
                            binding.host, binding.operation, binding.permission_type)  # fmt: skip
