"""``passerelle contracts validate --partner``: a native message checked by the partner's own adapter, offline."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from passerelle.cli import app
from tests.e2e.traffic import positionnement

PSEUDO = "a" * 64


def _validate(path: Path, event: str, partner: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["contracts", "validate", str(path), "--event", event, "--partner", partner])
    return result.exit_code, " ".join(result.output.split())


def test_an_imilo_message_is_accepted_as_the_adapter_would(tmp_path: Path) -> None:
    path = tmp_path / "positionnement.json"
    path.write_bytes(positionnement("v1"))
    code, output = _validate(path, "formation.Positionnement", "imilo")
    assert code == 0, output
    assert "1 événement(s) formation.Positionnement accepté(s), 0 rejeté(s)" in output


def test_a_region_csv_names_the_bad_row_and_its_column(tmp_path: Path) -> None:
    header = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut"
    rows = [
        f"P-1;{PSEUDO};53:77;35238S00;ADMIS;02/03/2026",
        f"P-2;{PSEUDO};53:77;35238S00;ADMIS;2026-03-02",
        f"P-3;{PSEUDO};53:77;35238S00;REFUSEE_PAR_ERREUR;04/03/2026",
    ]
    path = tmp_path / "statuts.csv"
    path.write_bytes("\r\n".join([header, *rows]).encode("latin-1"))
    code, output = _validate(path, "formation.StatutCandidature", "region-53")
    assert code == 1
    assert "1 événement(s) formation.StatutCandidature accepté(s), 2 rejeté(s)" in output
    assert "ligne 3" in output and "date_statut" in output
    assert "ligne 4" in output and "statut" in output


def test_a_nir_is_refused_before_anything_else(tmp_path: Path) -> None:
    path = tmp_path / "positionnement.json"
    path.write_bytes(positionnement("v2", commentaire="NIR 2 84 05 37 261 084 46"))
    code, output = _validate(path, "formation.Positionnement", "imilo")
    assert code == 1
    assert "commentaire" in output and "084 46" not in output
