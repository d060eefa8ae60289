"""Fuzzing every inbound dialect through the adapter's real flow (dialect, contract, Avro, envelope), no broker.

Properties, for every input: nothing raises; the dialect yields at least one outcome (a draft or a refusal);
every refusal has a code, never ``erreur_interne``, and a message; no path, message or value in an error holds
a NIR or the personal value the case inserted; no NIR is ever in a draft. ``make fuzz`` runs 10,000 cases per
dialect (``HYPOTHESIS_PROFILE=fuzz``); the normal suite runs a few dozen.
"""

from __future__ import annotations

import itertools

from hypothesis import given

from passerelle.simulation import native as simulated
from tests.dialect_context import SHAPES
from tests.fuzz import mutations, seeds
from tests.fuzz.mutations import Case, emit
from tests.fuzz.profiles import FUZZ
from tests.fuzz.properties import Harness, check

_OFFSETS = itertools.count()
_HARNESSES: dict[str, Harness] = {}


def _survives(case: Case) -> None:
    harness = _HARNESSES.get(case.partner) or _HARNESSES.setdefault(case.partner, Harness(case.partner))
    seen = harness.run(case, next(_OFFSETS))
    check(case, seen, harness.yielded)


@FUZZ
@given(mutations.json_case("imilo"))
def test_imilo_json(case: Case) -> None:
    _survives(case)


@FUZZ
@given(mutations.json_case("region"))
def test_region_json(case: Case) -> None:
    _survives(case)


@FUZZ
@given(mutations.csv_case())
def test_region_csv(case: Case) -> None:
    _survives(case)


@FUZZ
@given(mutations.lheo_case())
def test_lheo_xml(case: Case) -> None:
    _survives(case)


def test_the_seeds_themselves_are_valid() -> None:
    """Mutations start from messages the flow accepts whole."""
    cases = [Case("imilo", emit(v).encode()) for _, v in seeds.imilo()]
    cases += [Case("region-24", emit(v).encode()) for _, v in seeds.region_json()]
    cases += [Case("region-24", feed, {"ce_type": "formation.OffreSession"}) for feed in seeds.lheo()]
    for subject, rows in seeds.region_csv():
        payload = simulated.region_csv_file(subject, rows, SHAPES[subject], "latin-1")
        cases.append(Case("region-53", payload, {"ce_type": subject}))
    for case in cases:
        harness = Harness(case.partner)
        seen = harness.run(case, next(_OFFSETS))
        assert seen.drafts and not seen.rejected, (case.payload[:200], seen.rejected)
