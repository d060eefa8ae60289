"""One naming scheme for event types: a partner may name an event by its subject or by its CloudEvents type, and
every canonical record Passerelle writes carries the type and the schema it follows."""

from __future__ import annotations

import pytest

from passerelle.core.envelope import TYPE_PREFIX, event_type, subject_of
from passerelle.simulation import native as simulated
from tests.adapter.samples import STATUS
from tests.dialect_context import SHAPES
from tests.translator import incoming, translator


def test_a_type_is_the_avro_record_full_name_and_back() -> None:
    assert event_type(STATUS) == TYPE_PREFIX + STATUS == "fr.passerelle.formation.StatutCandidature"
    assert subject_of(event_type(STATUS)) == STATUS == subject_of(STATUS)


@pytest.mark.parametrize("named", [STATUS, event_type(STATUS)])
def test_a_partner_may_name_the_event_either_way(named: str) -> None:
    row = {
        "idPositionnement": "P-1",
        "pseudonyme": "b" * 64,
        "idSession": "53:1",
        "codeStructure": "35238S00",
        "statut": "ADMIS",
        "dateStatut": "05/03/2026",
    }
    body = simulated.region_csv_file(STATUS, [row], SHAPES[STATUS])  # a CSV says its event only in ce_type
    seen = translator("region-53").run(incoming("region-53", body, ce_type=named))
    assert seen.problems == []
    [output] = seen.canonical
    headers = dict(output.headers)
    assert headers["ce_type"] == event_type(STATUS).encode()
    assert headers["ce_dataschema"] == f"urn:passerelle:contrat:canon.{STATUS}-value:1".encode()
