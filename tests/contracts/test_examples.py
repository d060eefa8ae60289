"""The published examples: valid ones pass the codec and the registry, invalid ones fail exactly as stated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.codec import AvroCodec
from passerelle.core.contracts.errors import ValidationFailed
from passerelle.core.contracts.typed import MASKED, TypedContracts
from passerelle.settings import PROJECT_ROOT
from services.registry.app import create_app

EXAMPLES = PROJECT_ROOT / "contracts" / "examples"
VALID = sorted(EXAMPLES.glob("*/valid/*.json"))
INVALID = sorted(EXAMPLES.glob("*/invalid/*.json"))


def _id(path: Path) -> str:
    return f"{path.parent.parent.name}/{path.stem}"


def test_every_subject_has_valid_and_invalid_examples(catalogue: Catalogue) -> None:
    for subject in catalogue:
        assert len(list((EXAMPLES / subject / "valid").glob("*.json"))) >= 2, subject
        assert len(list((EXAMPLES / subject / "invalid").glob("*.json"))) >= 3, subject


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_valid_example(path: Path, typed: TypedContracts, codec: AvroCodec, catalogue: Catalogue) -> None:
    subject = path.parent.parent.name
    record = typed.validate_json(subject, path.read_bytes())
    assert codec.decode(codec.encode(subject, record)).record == record
    response = TestClient(create_app(catalogue)).post(f"/validate/{subject}", content=path.read_bytes())
    assert response.status_code == 200 and response.json()["valide"] is True


@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_example(path: Path, typed: TypedContracts, catalogue: Catalogue) -> None:
    subject = path.parent.parent.name
    example = json.loads(path.read_text(encoding="utf-8"))
    expected = sorted((e["chemin"], e["regle"]) for e in example["erreurs_attendues"])
    with pytest.raises(ValidationFailed) as failed:
        typed.validate_json(subject, json.dumps(example["instance"]))
    assert sorted((e.path, e.rule) for e in failed.value.errors) == expected
    for error in failed.value.errors:
        if error.path.startswith("jeune.") and error.path != "jeune.pseudonyme":
            assert error.received in (None, MASKED)  # personal values are never echoed
    response = TestClient(create_app(catalogue)).post(f"/validate/{subject}", json=example["instance"])
    assert response.status_code == 422
    assert sorted((e["chemin"], e["regle"]) for e in response.json()["erreurs"]) == expected
