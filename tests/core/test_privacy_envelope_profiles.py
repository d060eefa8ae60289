"""Privacy guards, the CloudEvents envelope and partner profiles."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.envelope import Envelope, EnvelopeError, child_trace_parent, trace_id
from passerelle.core.partners import ProfileError, load_profile
from passerelle.core.privacy import NirDetected, Pseudonymiser, contains_nir, may_hold_nir, reject_nir

VALID_NIR = "2 84 05 37 261 084 46"


@pytest.mark.parametrize(
    "text",
    [VALID_NIR, VALID_NIR.replace(" ", ""), f"né le 3, NIR {VALID_NIR} merci", "1 85 12 2A 004 123 12"],
)
def test_nirs_are_found(text: str) -> None:
    if "2A" in text:  # build a Corsican NIR with its real key
        body = "185122A004123"
        key = 97 - int(body.replace("2A", "19")) % 97
        text = f"{body}{key:02d}"
    assert contains_nir(text)


@pytest.mark.parametrize("text", ["284053726108447", "82422814200660", "0612345678", "37261S00", "RNCP37274"])
def test_non_nirs_are_left_alone(text: str) -> None:
    assert not contains_nir(text)


def test_reject_nir_names_the_path_never_the_value() -> None:
    with pytest.raises(NirDetected) as found:
        reject_nir({"dossier": {"notes": [f"x {VALID_NIR}"]}})
    assert found.value.path == "dossier.notes[0]"
    assert "084" not in str(found.value)


def test_the_raw_scan_only_clears_what_cannot_hold_a_nir() -> None:
    assert not may_hold_nir(b'{"commentaire": "rappel le 02/03/2026", "telephone": "0612345678"}')
    assert may_hold_nir(b'{"commentaire": "NIR 2 84 05 37 261 084 46"}')
    # JSON escapes could spell the digits: the per-field walk must run.
    escaped = b'{"commentaire": "\\u0032 84 05 37 261 084 46"}'
    assert may_hold_nir(escaped)
    with pytest.raises(NirDetected):
        reject_nir(orjson.loads(escaped))
    # A hexadecimal pseudonym has digits before an "e" (36eec0): in a string, that is no number in exponent form.
    assert not may_hold_nir(b'{"pseudonyme": "aa0893b8f36eec0a05b1825fccf375c6", "date": "2026-03-12"}')
    assert may_hold_nir(b'{"pseudonyme": "aa0893b8f36eec0a05b1825fccf375c6", "n": 3e2}')


def test_pseudonyms_depend_on_secret_and_namespace() -> None:
    one, other = Pseudonymiser(b"a"), Pseudonymiser(b"b")
    assert one("imilo", "D1") == one("imilo", " d1 ") != one("ine", "D1")
    assert one("imilo", "D1") != other("imilo", "D1")
    assert len(one("imilo", "D1")) == 64


@given(st.binary(max_size=200), st.sampled_from(["imilo", "ine"]), st.text(st.characters(exclude_categories=["Cs"])))
def test_a_pseudonym_is_the_hmac_sha256_of_namespace_and_identifier(secret: bytes, namespace: str, id_: str) -> None:
    expected = hmac.new(secret, f"{namespace}:{id_.strip().upper()}".encode(), hashlib.sha256).hexdigest()
    assert Pseudonymiser(secret)(namespace, id_) == expected


def test_envelope_round_trip_and_trace() -> None:
    env = Envelope.new("formation.Positionnement", "imilo", correlation_id="c1")
    back = Envelope.from_headers(env.to_headers())
    assert (back.id, back.type, back.source, back.correlation_id) == (env.id, env.type, env.source, "c1")
    child = env.derive("formation.Positionnement", "imilo", "id-2")
    assert trace_id(child.traceparent) == trace_id(env.traceparent)
    assert child.traceparent != env.traceparent
    assert trace_id(child_trace_parent("n'importe quoi")) is not None
    with pytest.raises(EnvelopeError, match="ce_id"):
        Envelope.from_headers([("ce_type", b"x")])
    with pytest.raises(EnvelopeError, match="ce_time"):
        Envelope.from_headers([*[(k, v) for k, v in env.to_headers() if k != "ce_time"], ("ce_time", b"hier")])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("publie:\n  formation.Inconnu: {dialecte: region-json}", "événement inconnu"),
        ("publie:\n  formation.StatutCandidature: {dialecte: fax}", "dialecte"),
        ("publie:\n  formation.OffreSession: {dialecte: region-csv}", "ne sait pas porter"),
        ("couleur: bleu", "couleur"),
    ],
)
def test_profile_errors_name_the_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "region-24.yaml"
    path.write_text(f"id: region-24\nnom: Essai\nfamille: region\nregion: '24'\n{body}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(path, frozenset({"formation.StatutCandidature", "formation.OffreSession"}))
    assert "region-24.yaml" in str(error.value) and message in str(error.value)


def test_bad_partner_id_and_region(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("id: region-99\nnom: X\nfamille: region\nregion: '99'\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="région"):
        load_profile(path)
