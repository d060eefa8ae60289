"""Generated LHEO feeds: valid against the official 2.3 XSD, and every session translates."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree

from passerelle.core.dialect import Draft
from passerelle.simulation.lheo_feed import NS_22, NS_23, write_feed
from services.region_adapter.dialects.lheo import parse_lheo
from tests.conftest import lheo_xsd
from tests.dialect_context import context


@pytest.mark.parametrize("use_fixtures", [False, True], ids=["modele-integre", "gabarits"])
def test_generated_23_feed_is_valid_and_translates(use_fixtures: bool, lheo_fixtures: list[Path]) -> None:
    out = io.BytesIO()
    sessions = write_feed(out, 60_000, seed=5, templates=lheo_fixtures if use_fixtures else (), namespace=NS_23)
    schema = etree.XMLSchema(etree.parse(str(lheo_xsd())))
    document = etree.fromstring(out.getvalue())
    assert schema.validate(document), str(schema.error_log)[:500]
    outcomes = list(parse_lheo(out.getvalue(), context("region-24")))
    assert len(outcomes) == sessions > 0 and all(isinstance(o, Draft) for o in outcomes)
    assert {o.record["versionLheo"] for o in outcomes} == {"2.3"}  # type: ignore[union-attr]


def test_feed_size_and_determinism() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    write_feed(a, 30_000, seed=1, namespace=NS_22)
    write_feed(b, 30_000, seed=1, namespace=NS_22)
    assert a.getvalue() == b.getvalue() and 30_000 <= len(a.getvalue()) < 40_000
