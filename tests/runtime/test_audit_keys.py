"""The audit keys for people and for the router: keygen, the router's refusal to start unsigned, the local
stack's ephemeral pair. No broker."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from passerelle.cli import app
from passerelle.core.audit import AuditKeyError, AuditSigner, key_id, load_public_keys, load_signing_key
from passerelle.runtime.audit import load_signer, read_public_keys, trusted_keys, write_key_pair
from passerelle.settings import Settings
from passerelle.stack.local import with_audit_keys
from services.router.app import build


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keygen_writes_a_private_key_for_its_owner_only_and_the_matching_public_key(tmp_path: Path) -> None:
    out = tmp_path / "cles"
    result = CliRunner().invoke(app, ["audit", "keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    signing, public = out / "audit-signing.pem", out / "audit-public.pem"
    assert mode(signing) == 0o600 and mode(public) == 0o644 and mode(out) == 0o700
    signer = AuditSigner(load_signing_key(signing.read_bytes()))
    [published] = load_public_keys(public.read_bytes())
    assert key_id(published) == signer.key_id
    assert signer.key_id in result.output.replace("\n", "")


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    write_key_pair(tmp_path)
    before = (tmp_path / "audit-signing.pem").read_bytes()
    result = CliRunner().invoke(app, ["audit", "keygen", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "existe déjà" in str(result.exception)
    assert (tmp_path / "audit-signing.pem").read_bytes() == before


def test_the_router_refuses_to_start_without_its_signing_key(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1")
    with pytest.raises(AuditKeyError, match="PASSERELLE_AUDIT_SIGNING_KEY_FILE n'est pas défini"):
        build(settings)
    missing = settings.model_copy(update={"audit_signing_key_file": tmp_path / "absente.pem"})
    with pytest.raises(AuditKeyError, match="clé de signature d'audit illisible"):
        build(missing)
    files = write_key_pair(tmp_path / "cles")
    public_as_private = settings.model_copy(update={"audit_signing_key_file": files.public})
    with pytest.raises(AuditKeyError, match="clé privée PEM"):
        build(public_as_private)


def test_service_run_router_without_its_key_stops_with_one_clear_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_AUDIT_")}
    env["PASSERELLE_KAFKA_BOOTSTRAP"] = "127.0.0.1:1"
    run = [sys.executable, "-m", "passerelle.cli", "service", "run", "router"]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 78  # a setting is missing (docs/operator-guide.md, « Exit codes »)
    assert "Erreur : PASSERELLE_AUDIT_SIGNING_KEY_FILE n'est pas défini" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_router_signs_with_its_key_and_trusts_the_former_ones(tmp_path: Path) -> None:
    current, former = write_key_pair(tmp_path / "nouvelle"), write_key_pair(tmp_path / "ancienne")
    published = tmp_path / "audit-public.pem"
    published.write_bytes(former.public.read_bytes() + current.public.read_bytes())
    settings = Settings(audit_signing_key_file=current.signing, audit_public_key_file=published)
    signer = load_signer(settings)
    assert signer.key_id == key_id(read_public_keys([current.public])[0])
    trusted = trusted_keys(settings, signer)
    assert set(trusted.by_id) == {signer.key_id, key_id(read_public_keys([former.public])[0])}
    runtime = build(settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1", "instance_id": "router-3"}))
    assert runtime.before_start  # resumes its chain, named after the instance, before consuming


def test_the_router_instance_is_a_plain_name() -> None:
    assert Settings(instance_id="router-0").instance_id == "router-0"
    with pytest.raises(ValueError, match="instance_id"):
        Settings(instance_id="router 0/../x")


def test_the_local_stack_makes_an_ephemeral_pair_only_when_none_is_configured(tmp_path: Path) -> None:
    settings, folder = with_audit_keys(Settings())
    assert folder is not None and folder.is_dir()
    assert settings.audit_signing_key_file == folder / "audit-signing.pem"
    assert settings.audit_public_key_file == folder / "audit-public.pem"
    assert load_signer(settings).key_id
    shutil.rmtree(folder)
    configured = Settings(audit_signing_key_file=tmp_path / "audit-signing.pem")
    assert with_audit_keys(configured) == (configured, None)
