"""Each exit code of ``passerelle``, as the operator guide documents it, from a real case of each."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import KafkaError, KafkaException

from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.broker.reader import TopicNotFound
from passerelle.cli.context import CliState
from passerelle.cli.exits import ExitCode, classify
from passerelle.core.contracts.errors import UnknownSubject, ValidationFailed
from passerelle.core.partners import ProfileError
from passerelle.settings import PROJECT_ROOT
from tests.cli.commands import EXAMPLES, invalid_example, passerelle

GUIDE = PROJECT_ROOT / "docs" / "operator-guide.md"


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> str:
    """A bootstrap address where nothing listens: a port of the loopback just freed."""
    address = f"{LOOPBACK}:{free_port()}"
    monkeypatch.setenv("PASSERELLE_KAFKA_BOOTSTRAP", address)
    monkeypatch.delenv("PASSERELLE_AUDIT_PUBLIC_KEY_FILE", raising=False)
    return address


def test_the_operator_guide_documents_every_code_and_no_other() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## Exit codes and `--json`") :]
    section = section[: section.index("\n## ", 1)]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    assert documented == {code.value for code in ExitCode}


def test_the_codes_are_those_scripts_rely_on() -> None:
    assert {code.name: code.value for code in ExitCode} == {
        "OK": 0,
        "FINDING": 1,
        "USAGE": 2,
        "INVALID_INPUT": 65,
        "NOT_FOUND": 66,
        "UNREACHABLE": 69,
        "INTERNAL": 70,
        "CONFIG": 78,
        "INTERRUPTED": 130,
    }


def test_0_when_the_check_finds_nothing_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    done = passerelle(
        capsys, "contracts", "validate", str(EXAMPLES / "valid" / "complet.json"), "-e", "formation.Positionnement"
    )
    assert done.code == 0, done.err
    assert "est conforme" in done.out and done.err == ""


def test_1_when_the_check_finds_something_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    invalid = invalid_example("champ-manquant", tmp_path)
    done = passerelle(capsys, "contracts", "validate", str(invalid), "-e", "formation.Positionnement")
    assert done.code == 1
    assert "1 erreur(s)" in done.out and "idPositionnement" in done.out and done.err == ""


def test_1_when_a_contract_breaks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "avro"
    shutil.copytree(PROJECT_ROOT / "schemas" / "avro", folder)
    (folder / "formation.Positionnement" / "9.avsc").write_text(
        (folder / "formation.Positionnement" / "1.avsc").read_text(encoding="utf-8"), encoding="utf-8"
    )  # versions 1 and 9: the house rules want them contiguous
    done = passerelle(capsys, "contracts", "check", "--schemas", str(folder))
    assert done.code == ExitCode.FINDING, done.out + done.err
    assert "versions non contiguës" in done.out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["dlq", "list", "--foo"], "option inconnue : --foo"),
        (["dlq", "show"], "argument obligatoire absent : REF"),
        (["dlq", "frobnicate"], "commande inconnue : frobnicate"),
        (["tail", "out.imilo", "--max", "beaucoup"], "valeur invalide pour --max"),
        (["dlq", "replay", "--service", "router"], "précisez --ref, --code ou --all"),
        (["dlq", "list", "--service", "inconnu"], "service inconnu : inconnu"),
    ],
)
def test_2_when_the_command_line_is_wrong(
    capsys: pytest.CaptureFixture[str], no_broker: str, args: list[str], said: str
) -> None:
    done = passerelle(capsys, *args)
    assert done.code == 2, done.err
    assert done.out == ""
    [line] = done.err.splitlines()
    assert line.startswith("Erreur") and said in line


def test_65_when_an_input_cannot_be_used(capsys: pytest.CaptureFixture[str], no_broker: str, tmp_path: Path) -> None:
    not_pem = tmp_path / "cle.pem"
    not_pem.write_text("pas une clé\n", encoding="utf-8")
    done = passerelle(capsys, "audit", "verify", "--public-key", str(not_pem))
    assert done.code == 65, done.err
    assert done.err.startswith("Erreur : ") and len(done.err.splitlines()) == 1
    principal = passerelle(capsys, "dev", "certs", "--dossier", str(tmp_path / "pki"), "--principal", "a,b")
    assert principal.code == ExitCode.INVALID_INPUT, principal.err
    assert "nom de certificat invalide" in principal.err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["contracts", "validate", "absent.json", "-e", "formation.Positionnement"],
            "fichier introuvable : absent.json",
        ),
        (
            ["contracts", "validate", str(EXAMPLES / "valid" / "complet.json"), "-e", "formation.Inconnu"],
            "sujet inconnu",
        ),
        (
            [
                "contracts",
                "validate",
                str(EXAMPLES / "valid" / "complet.json"),
                "-e",
                "formation.Positionnement",
                "--version",
                "99",
            ],
            "version inconnue",
        ),
        (["contracts", "check", "--schemas", "absent"], "dossier introuvable : absent"),
        (
            ["ingest", "csv", "absent.csv", "--partner", "region-53", "--event", "formation.StatutCandidature"],
            "fichier introuvable",
        ),
        (["audit", "verify", "--public-key", "absente.pem"], "fichier de clés publiques illisible"),
    ],
)
def test_66_when_what_was_named_does_not_exist(
    capsys: pytest.CaptureFixture[str], no_broker: str, args: list[str], said: str
) -> None:
    done = passerelle(capsys, *args)
    assert done.code == 66, done.err
    [line] = done.err.splitlines()
    assert said in line and done.out == ""


def test_66_for_a_partner_without_a_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    message = tmp_path / "statuts.csv"
    message.write_text("id_positionnement;statut\n", encoding="utf-8")
    done = passerelle(
        capsys, "contracts", "validate", str(message), "-e", "formation.StatutCandidature", "-p", "region-99"
    )
    assert done.code == ExitCode.NOT_FOUND, done.err
    assert "partenaire inconnu : region-99" in done.err


def test_69_when_the_broker_does_not_answer(capsys: pytest.CaptureFixture[str], no_broker: str) -> None:
    done = passerelle(capsys, "dlq", "list")
    assert done.code == 69
    assert done.out == ""
    [line] = done.err.splitlines()
    assert line.startswith(f"Erreur : broker Kafka injoignable ({no_broker})")


def test_70_for_an_unexpected_error_and_its_traceback_with_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_state: CliState) -> None:
        raise ZeroDivisionError("division par zéro")

    monkeypatch.setattr(CliState, "profiles", property(broken))
    done = passerelle(capsys, "partners", "list")
    assert done.code == 70
    assert done.err.strip() == "Erreur : division par zéro (--debug pour la trace complète)"
    with pytest.raises(ZeroDivisionError):
        passerelle(capsys, "--debug", "partners", "list")


def test_78_when_a_setting_is_missing_or_wrong(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PASSERELLE_KAFKA_BOOTSTRAP", raising=False)
    done = passerelle(capsys, "dlq", "list")
    assert done.code == 78
    assert done.err.strip() == "Erreur : PASSERELLE_KAFKA_BOOTSTRAP n'est pas défini (voir « passerelle dev up »)"
    monkeypatch.setenv("PASSERELLE_KAFKA_BOOTSTRAP", f"{LOOPBACK}:9092")
    monkeypatch.setenv("PASSERELLE_KAFKA_SECURITY", "SASL_SSL")  # and no user or password
    monkeypatch.delenv("PASSERELLE_KAFKA_USERNAME", raising=False)
    assert passerelle(capsys, "dlq", "list").code == ExitCode.CONFIG
    monkeypatch.setenv("PASSERELLE_BATCH_MAX_RECORDS", "beaucoup")
    wrong = passerelle(capsys, "partners", "list")
    assert wrong.code == ExitCode.CONFIG and "PASSERELLE_BATCH_MAX_RECORDS" in wrong.err


def test_130_when_interrupted(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_state: CliState) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(CliState, "profiles", property(interrupted))
    assert passerelle(capsys, "partners", "list").code == 130


def test_69_when_the_registry_does_not_answer(capsys: pytest.CaptureFixture[str]) -> None:
    registry = f"http://{LOOPBACK}:{free_port()}"
    done = passerelle(capsys, "contracts", "publish", "--registre", registry)
    assert done.code == 69 and done.out == ""
    [line] = done.err.splitlines()
    assert line.startswith("Erreur : registre injoignable")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (KafkaConnectionError("Unable to bootstrap"), 69),
        (KafkaException(KafkaError(KafkaError._TRANSPORT)), 69),
        (KafkaException(KafkaError(KafkaError._TIMED_OUT)), 69),
        (KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), 70),
        (httpx.ConnectError("refused"), 69),
        (TopicNotFound("topic inconnu : x"), 66),
        (UnknownSubject("formation.X"), 66),
        (FileNotFoundError("absent"), 66),
        (ProfileError("region-24.yaml : vue inconnue"), 65),
        (ValidationFailed("formation.Positionnement", 1), 65),  # a record refused where none was being checked
        (RuntimeError("inattendu"), 70),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_what_the_libraries_raise_gets_its_code(error: BaseException, code: int) -> None:
    assert classify(error)[0] == code
