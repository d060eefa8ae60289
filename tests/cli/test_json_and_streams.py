"""``--json`` writes one document and nothing else on stdout; styles and progress respect the streams and NO_COLOR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from passerelle.cli import app
from passerelle.cli.ingest import _progress
from passerelle.cli.render import console
from tests.cli.commands import EXAMPLES, invalid_example, passerelle

ESCAPE = "\x1b["
# A colour terminal, whatever runs the tests: rich styles only such a console.
TERMINAL = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}


def _document(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object]:
    done = passerelle(capsys, *args)
    return done.code, json.loads(done.out)  # the whole of stdout is one JSON document


def test_partners_list_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _document(capsys, "partners", "list", "--json")
    assert code == 0
    assert isinstance(document, dict)
    partners = {p["id"]: p for p in document["partners"]}
    assert {"imilo", "region-24", "region-53", "region-84"} <= set(partners)
    imilo = partners["imilo"]
    assert imilo["family"] == "mission_locale"
    assert {"event": "formation.Positionnement", "dialect": "imilo-json"} in imilo["publishes"]
    received = {r["event"]: r for r in partners["region-24"]["receives"]}
    assert received["formation.Positionnement"]["dialect"] and isinstance(
        received["formation.Positionnement"]["view"], list
    )


def test_contracts_check_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _document(capsys, "contracts", "check", "--json")
    assert code == 0
    assert isinstance(document, dict)
    assert document["ok"] is True and document["level"] == "FULL_TRANSITIVE"
    assert document["breaks"] == [] and document["findings"] == []
    subjects = {s["subject"]: s for s in document["subjects"]}
    assert subjects["formation.Positionnement"]["versions"][0] == 1 and subjects["formation.Positionnement"]["ok"]


def test_contracts_validate_as_json_names_each_problem_and_keeps_the_exit_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = ("-e", "formation.Positionnement", "--json")
    code, document = _document(capsys, "contracts", "validate", str(EXAMPLES / "valid" / "minimal.json"), *event)
    assert code == 0
    assert document == {"file": "minimal.json", "event": "formation.Positionnement", "version": 1, "valid": True,
                        "problems": []}  # fmt: skip
    code, document = _document(capsys, "contracts", "validate", str(invalid_example("champ-inconnu", tmp_path)), *event)
    assert code == 1
    assert isinstance(document, dict) and document["valid"] is False
    assert [p["regle"] for p in document["problems"]] == ["champ_inconnu"]
    assert set(document["problems"][0]) >= {"code", "chemin", "regle", "message", "attendu", "recu"}


def test_a_native_message_validated_as_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    header = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut"
    row = f"P-1;{'a' * 64};53:77;35238S00;ADMIS;2026-03-02"  # an ISO date where the Region writes dd/mm/yyyy
    message = tmp_path / "statuts.csv"
    message.write_bytes(f"{header}\r\n{row}\r\n".encode("latin-1"))
    done = passerelle(capsys, "contracts", "validate", str(message), "-e", "formation.StatutCandidature",
                      "-p", "region-53", "--json")  # fmt: skip
    document = json.loads(done.out)
    assert done.code == 1
    assert (document["accepted"], document["rejected"], document["valid"]) == (0, 1, False)
    assert document["problems"][0]["position"] == "ligne 2" and document["problems"][0]["chemin"] == "date_statut"


def test_no_color_leaves_no_escape_sequence_in_a_styled_table() -> None:
    runner = CliRunner()
    styled = runner.invoke(app, ["contracts", "check"], env={**TERMINAL, "COLUMNS": "200", "NO_COLOR": ""})
    assert styled.exit_code == 0 and ESCAPE in styled.output  # the test can see styles when there are some
    plain = runner.invoke(app, ["contracts", "check"], env={**TERMINAL, "COLUMNS": "200", "NO_COLOR": "1"})
    assert plain.exit_code == 0, plain.output
    assert "compatible" in plain.output and ESCAPE not in plain.output
    table = runner.invoke(app, ["partners", "list"], env={**TERMINAL, "NO_COLOR": "1"})
    assert "Partenaires" in table.output and ESCAPE not in table.output


def test_no_color_on_the_error_line_too(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TERMINAL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ESCAPE in passerelle(capsys, "contracts", "check", "--schemas", "absent").err
    monkeypatch.setenv("NO_COLOR", "1")
    plain = passerelle(capsys, "contracts", "check", "--schemas", "absent")
    assert plain.code == 66 and plain.err == "Erreur : dossier introuvable : absent\n"


def test_consoles_write_results_on_stdout_and_progress_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert console().file is sys.stdout
    assert console(stderr=True).file is sys.stderr
    with _progress(Path("flux.xml")) as progress:
        progress.add_task("flux", total=10, completed=10)
    captured = capsys.readouterr()
    assert captured.out == "" and "flux.xml" in captured.err


def test_with_json_logs_an_error_is_a_json_line_too() -> None:
    """A command that fails in a container (JSON logs) writes nothing a log pipeline could not parse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env |= {"PASSERELLE_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-m", "passerelle.cli", "tail", "in.imilo"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 78 and done.stdout == ""
    [line] = done.stderr.splitlines()
    record = json.loads(line)
    assert record["event"] == "commande.erreur" and "PASSERELLE_KAFKA_BOOTSTRAP" in record["message"]
