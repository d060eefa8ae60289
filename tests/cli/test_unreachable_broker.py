"""Against a broker that is not there, every command that needs one says so in one line, exits 69, leaks nothing.

Each runs as its own process, as an operator types it, with every ResourceWarning shown: an aiokafka client
left unclosed says « Unclosed AIOKafka… » and an unclosed socket or transport says « ResourceWarning ».
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.runtime.audit import write_key_pair

COMMANDS = {
    "dlq list": ["dlq", "list", "--json"],
    "dlq replay": ["dlq", "replay", "--service", "router", "--all"],
    "tail": ["tail", "out.imilo", "--max", "1"],
    "topics create": ["topics", "create", "--json"],
    "audit verify": ["audit", "verify", "--json", "--public-key", "{key}"],
    "ingest csv": ["ingest", "csv", "{csv}", "--partner", "region-53", "--event", "formation.StatutCandidature"],
    "acl plan": ["acl", "plan"],
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("entrees")
    csv = folder / "statuts.csv"
    csv.write_text("id_positionnement;statut\nP-1;ADMIS\n", encoding="utf-8")
    return {"key": str(write_key_pair(folder / "cles").public), "csv": str(csv)}


def _environment(bootstrap: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PASSERELLE_KAFKA_", "PASSERELLE_AUDIT_"))}
    return {**env, "PASSERELLE_KAFKA_BOOTSTRAP": bootstrap, "PYTHONWARNINGS": "always::ResourceWarning",
            "COLUMNS": "80"}  # fmt: skip


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_closed_port_exits_69_with_one_line_and_no_leaked_client(name: str, inputs: dict[str, str]) -> None:
    bootstrap = f"{LOOPBACK}:{free_port()}"
    args = [arg.format(**inputs) for arg in COMMANDS[name]]
    done = subprocess.run(
        [sys.executable, "-m", "passerelle.cli", *args],
        env=_environment(bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 69, done.stderr
    assert done.stdout == ""  # not even a half-written JSON document
    said = (
        f"Erreur : broker Kafka injoignable ({bootstrap}) : vérifiez PASSERELLE_KAFKA_BOOTSTRAP, que le broker est "
        "démarré et l'identité présentée (PASSERELLE_KAFKA_*)"
    )
    assert done.stderr.splitlines() == [said], done.stderr  # no traceback, no Unclosed AIOKafka…, no ResourceWarning
