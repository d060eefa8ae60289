"""The compatibility gate: passes on the repository, fails with a readable report on a breaking copy."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.compat import Level, check_catalogue
from passerelle.core.contracts.lint import lint_catalogue
from passerelle.settings import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "schemas" / "avro"
SUBJECT = "formation.StatutCandidature"


def _check(folder: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "passerelle.cli", "contracts", "check"]
    if folder:
        args += ["--schemas", str(folder)]
    return subprocess.run(args, capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""}, check=False)


def _copy_with_v2(tmp_path: Path, change: Any) -> Path:
    folder = tmp_path / "avro"
    shutil.copytree(SCHEMAS, folder)
    v1 = json.loads((folder / SUBJECT / "1.avsc").read_text(encoding="utf-8"))
    v2 = change(copy.deepcopy(v1))
    (folder / SUBJECT / "2.avsc").write_text(json.dumps(v2, ensure_ascii=False), encoding="utf-8")
    return folder


def _remove_field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    schema["fields"] = [f for f in schema["fields"] if f["name"] != name]
    return schema


def _retype(schema: dict[str, Any]) -> dict[str, Any]:
    for f in schema["fields"]:
        if f["name"] == "rangListeAttente":
            f["type"] = ["null", "string"]
    return schema


def _drop_symbol(schema: dict[str, Any]) -> dict[str, Any]:
    for f in schema["fields"]:
        if f["name"] == "statut":
            # Without its default symbol, an enum cannot absorb a symbol it no longer knows.
            f["type"]["symbols"].remove("ADMIS")
            del f["type"]["default"]
    return schema


def _add_mandatory(schema: dict[str, Any]) -> dict[str, Any]:
    schema["fields"].append({"name": "nouveau", "type": "string", "doc": "Nouveau champ obligatoire."})
    return schema


def test_repository_contracts_pass() -> None:
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tous compatibles" in result.stdout


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: _remove_field(s, "idSession"), "idSession"),
        (_retype, "rangListeAttente"),
        (_drop_symbol, "statut"),
        (_add_mandatory, "nouveau"),
    ],
    ids=["champ-supprime-sans-defaut", "type-change", "symbole-et-defaut-retires", "champ-obligatoire-ajoute"],
)
def test_a_breaking_version_fails_the_gate_with_a_readable_report(tmp_path: Path, change: Any, field: str) -> None:
    folder = _copy_with_v2(tmp_path, change)
    result = _check(folder)
    assert result.returncode == 1
    report = " ".join(result.stdout.split())
    assert "RUPTURE" in report and SUBJECT in report and field in report
    assert "version 1" in report and "version 2" in report
    breaks = check_catalogue(Catalogue.load(folder), Level.FULL_TRANSITIVE)
    assert breaks and all(b.subject == SUBJECT for b in breaks)


def test_compatible_evolutions_pass(tmp_path: Path) -> None:
    def evolve(schema: dict[str, Any]) -> dict[str, Any]:
        schema["fields"].append(
            {"name": "canal", "type": ["null", "string"], "default": None, "doc": "Canal de la réponse."}
        )
        for f in schema["fields"]:
            if f["name"] == "statut":
                f["type"]["symbols"].insert(-1, "EN_ETUDE")
        return schema

    folder = _copy_with_v2(tmp_path, evolve)
    assert check_catalogue(Catalogue.load(folder)) == []
    assert _check(folder).returncode == 0


def test_lint_finds_house_rule_breaks(tmp_path: Path) -> None:
    assert lint_catalogue(Catalogue.load(SCHEMAS)) == []

    def sloppy(schema: dict[str, Any]) -> dict[str, Any]:
        schema["fields"].append({"name": "sansDoc", "type": ["null", "string"], "default": None})
        schema["fields"].append(
            {"name": "perso", "type": ["null", "string"], "default": None, "doc": "x", "pii": "secret"}
        )
        schema["fields"].append(
            {"name": "code", "type": ["null", "string"], "default": None, "doc": "x", "format": "inconnu"}
        )
        schema["fields"].append(
            {
                "name": "choix",
                "doc": "x",
                "default": "A",
                "type": {"type": "enum", "name": "Choix", "doc": "x", "symbols": ["A", "B"]},
            }
        )
        return schema

    findings = lint_catalogue(Catalogue.load(_copy_with_v2(tmp_path, sloppy)))
    text = " ".join(f.describe() for f in findings)
    for expected in ("sansDoc", "secret", "inconnu", "Choix"):
        assert expected in text
