"""The contracts validate straight into dicts: the same records, defaults and errors as the pydantic models the
schemas are built into, whatever a field holds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import SchemaValidator, core_schema

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.errors import ValidationFailed
from passerelle.core.contracts.formats import FORMATS, Format
from passerelle.core.contracts.typed import TypedContract, _anchored, french
from passerelle.settings import PROJECT_ROOT
from tests.contracts.strategies import ANY_VALUE, DROP, EDGES, changed, paths, records

CATALOGUE = Catalogue.load(PROJECT_ROOT / "schemas" / "avro")
CONTRACTS = [TypedContract(v) for s in CATALOGUE for v in CATALOGUE.versions(s)]
IDS = [f"{c.schema.subject}-v{c.schema.version}" for c in CONTRACTS]


def _model_answer(contract: TypedContract, instance: Any) -> Any:
    try:
        return contract.model.model_validate(instance).model_dump()
    except ValidationError as exc:
        return contract._failure(exc).errors


def _dict_answer(contract: TypedContract, instance: Any) -> Any:
    try:
        return contract.validate(instance)
    except ValidationFailed as failed:
        return failed.errors


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
@settings(max_examples=3, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_edge_value_in_every_field_gets_the_models_answer(contract: TypedContract, data: st.DataObject) -> None:
    record = data.draw(records(contract.schema.schema))
    assert _dict_answer(contract, record) == _model_answer(contract, record)
    for path in paths(record):
        for value in [*EDGES, DROP, {"champ": "inconnu"}]:
            instance = changed(record, path, value)
            assert _dict_answer(contract, instance) == _model_answer(contract, instance), (path, value)


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_in_any_field_gets_the_models_answer(contract: TypedContract, data: st.DataObject) -> None:
    record = data.draw(records(contract.schema.schema))
    where = paths(record)
    if where:
        record = changed(record, data.draw(st.sampled_from(where)), data.draw(ANY_VALUE | st.just(DROP)))
    assert _dict_answer(contract, record) == _model_answer(contract, record)
    extra = {**record, "champInconnu": 1}
    assert _dict_answer(contract, extra) == _model_answer(contract, extra)


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=FORMATS.keys())
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_each_format_checked_by_pydantic_core_is_the_python_pattern(fmt: Format, data: st.DataObject) -> None:
    near = st.from_regex(fmt.pattern, fullmatch=True)
    text = data.draw(near | near.map(lambda t: t + "\n") | near.map(lambda t: " " + t) | st.text(max_size=16))
    checked = SchemaValidator(core_schema.str_schema(strict=True, pattern=_anchored(fmt)))
    errors: list[Any] = []
    try:
        checked.validate_python(text)
    except ValidationError as exc:
        errors = exc.errors()
    assert [french(e)[0] for e in errors] == ([] if fmt.matches(text) else [f"format_{fmt.name}"])
