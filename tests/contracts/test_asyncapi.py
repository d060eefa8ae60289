"""The committed AsyncAPI document is what the services' code generates today."""

from __future__ import annotations

import yaml

from passerelle.settings import PROJECT_ROOT
from passerelle.stack.asyncapi import document

COMMITTED = PROJECT_ROOT / "contracts" / "asyncapi.yaml"


def test_asyncapi_document_is_up_to_date() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == document(), (
        "contracts/asyncapi.yaml est périmé : lancez « passerelle contracts asyncapi »"
    )


def test_asyncapi_covers_every_partner_topic_and_canonical_contract() -> None:
    spec = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert spec["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in spec["channels"].values()}
    for topic in (
        "in.imilo",
        "out.imilo",
        "in.region-24",
        "deliver.region-53",
        "audit.deliveries",
        "canon.formation.Positionnement",
        "dlq.router",
        "feedback.region-84",
    ):
        assert topic in addresses
