"""The gateway's Kafka rights for the outbound half, as declared (their effect on a cluster is tests/security's)."""

from __future__ import annotations

from passerelle.broker.acl import Operation, Pattern, Resource, principal
from passerelle.core.partners import Profiles
from passerelle.stack.rights import GATEWAY, gateway_grants
from services.gateway.delivery import delivery_group
from services.gateway.events import pull_group


def _allows(partners: list[str], resource: Resource, name: str, operation: Operation) -> bool:
    return any(
        grant.principal == principal(GATEWAY)
        and grant.resource is resource
        and grant.operation is operation
        and (name == grant.name if grant.pattern is Pattern.LITERAL else name.startswith(grant.name))
        for grant in gateway_grants(partners)
    )


def test_the_gateway_reads_every_partners_deliveries_and_feedback_in_groups_of_its_own(profiles: Profiles) -> None:
    partners = profiles.ids
    for partner in partners:
        for topic in (f"out.{partner}", f"feedback.{partner}"):
            assert _allows(partners, Resource.TOPIC, topic, Operation.READ)
            assert _allows(partners, Resource.TOPIC, topic, Operation.DESCRIBE)
            assert not _allows(partners, Resource.TOPIC, topic, Operation.WRITE)  # it only reads them
        for group in (delivery_group(partner), pull_group(partner)):
            assert _allows(partners, Resource.GROUP, group, Operation.READ)
        # A partner's own consumer groups stay its own.
        assert not _allows(partners, Resource.GROUP, f"{partner}.suivi", Operation.READ)
    assert not _allows(partners, Resource.TOPIC, "canon.formation.Positionnement", Operation.READ)
    assert not _allows(partners, Resource.TOPIC, "deliver.region-24", Operation.READ)


def test_onboarding_a_partner_changes_only_the_gateways_right_to_publish_for_it(profiles: Profiles) -> None:
    without = set(gateway_grants([p for p in profiles.ids if p != "region-84"]))
    added = set(gateway_grants(profiles.ids)) - without
    assert {(g.name, g.operation) for g in added} == {
        ("in.region-84", Operation.WRITE),
        ("in.region-84", Operation.DESCRIBE),
    }
