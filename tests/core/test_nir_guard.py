"""The one NIR guard: every written form of a NIR is found, in strings, numbers and field names, in every dialect;
nothing in the real LHEO feeds is taken for one; the raw pre-scan never clears what the per-field guard refuses."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from passerelle.core.dialect import Draft, Rejected
from passerelle.core.privacy import (
    MASKED_NAME,
    NirDetected,
    contains_nir,
    may_hold_nir,
    number_holds_nir,
    redact_text,
    reject_nir,
)
from passerelle.simulation import native as simulated
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects import region_csv, region_json
from services.region_adapter.dialects.lheo import parse_lheo
from tests.conftest import OWN_LHEO, real_lheo_feeds
from tests.dialect_context import SHAPES, context

NIR = "284053726108446"  # sex 2, 1984, May, department 37, commune 261, order 084, key 46


def _corsican() -> str:
    body = "185122A004123"
    return f"{body}{97 - int(body.replace('2A', '19')) % 97:02d}"


# Every way the tester wrote the same NIR, and a Corsican one.
FORMS = {
    "compact": NIR,
    "spaces": "2 84 05 37 261 084 46",
    "hyphens": "2-84-05-37-261-084-46",
    "dots": "2.84.05.37.261.084.46",
    "non-breaking spaces": "2\u00a084\u00a005\u00a037\u00a0261\u00a0084\u00a046",
    "narrow non-breaking spaces": "2\u202f84\u202f05\u202f37\u202f261\u202f084\u202f46",
    "thin spaces": "2\u200984\u200905\u200937\u2009261\u2009084\u200946",
    "en dashes": "2–84–05–37–261–084–46",
    "zero-width spaces": "2\u200b84\u200b05\u200b37\u200b261\u200b084\u200b46",
    "full-width digits": "".join(chr(0xFF10 + int(d)) for d in NIR),
    "groups of three": "284 053 726 108 446",
    "corsican": _corsican(),
    "corsican with spaces": " ".join([_corsican()[0], _corsican()[1:3], _corsican()[3:5], _corsican()[5:]]),
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_every_written_form_is_found(form: str) -> None:
    assert contains_nir(form)
    assert contains_nir(f"Sécurité sociale : {form}, merci")
    assert NIR not in redact_text(f"n° {form}") and "2 84 05" not in redact_text(f"n° {form}")


@pytest.mark.parametrize(
    "text",
    [
        "82422814200660",  # SIRET
        "824 228 142 00660",  # SIRET written in groups
        "82422814200660 1",
        "0612345678",
        "06 12 34 56 78 - 02 47 00 00 00",
        "+33 6 12 34 56 78",
        "24370000037",  # activity-declaration number
        "0.736479997634888",  # LHEO longitude: decimals are not a NIR
        "47.8642616271973",
        "0,284053726108446",
        "2840537261084461",  # a longer id is never cut
        f"x{NIR}",
        f"{NIR}x",
        "RNCP37274",
        "37261S00",
        f"{NIR[:-2]}47",  # wrong key
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert not contains_nir(text)


def test_numbers_and_field_names_are_read_too() -> None:
    assert number_holds_nir(int(NIR)) and number_holds_nir(float(NIR))
    assert not number_holds_nir(True) and not number_holds_nir(10**5000)
    with pytest.raises(NirDetected) as as_number:
        reject_nir({"dossier": {"niveauQualification": int(NIR)}})
    assert as_number.value.path == "dossier.niveauQualification"
    with pytest.raises(NirDetected) as as_key:
        reject_nir({"dossier": {FORMS["hyphens"]: "x", "y": 1}})
    assert as_key.value.in_name and as_key.value.path == "dossier"
    with pytest.raises(NirDetected) as under_key:
        reject_nir({"jean.dupont@exemple.fr": [f"NIR {NIR}"]})
    assert under_key.value.path == f"{MASKED_NAME}[0]"
    for error in (as_number.value, as_key.value, under_key.value):
        assert not contains_nir(str(error)) and "dupont" not in str(error)


# ---------------------------------------------------------------- the raw pre-scan

_PIECES = st.sampled_from(
    [
        *FORMS.values(),
        NIR[:7],
        NIR[7:],
        "0.",
        ",",
        "e",
        "E+",
        "-",
        " ",
        "\u00a0",
        "A",
        "B",
        "é",
        "ÿ",
        "×",
        "\u0301",
        "\u2009",
        "\\",
        '"',
        "\n",
        "x",
        "０",
        "²",
    ]
)
_TEXTS = st.lists(st.one_of(_PIECES, st.text(alphabet="0123456789 .-AB,e", max_size=20)), max_size=6).map("".join)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**17), max_value=10**17),
    st.just(int(NIR)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(float(NIR)),
    st.sampled_from([int(NIR) / 10, int(NIR) / 100, 0.284053726108446]),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXTS),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXTS, inner, max_size=4)),
    max_leaves=12,
)


def _refused(value: object) -> bool:
    try:
        reject_nir(value)
    except NirDetected:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_the_raw_pre_scan_never_clears_what_the_guard_refuses(value: object) -> None:
    if not _refused(value):
        return
    for raw in (
        orjson.dumps(value),
        json.dumps(value).encode(),  # escapes every non-ASCII character
        json.dumps(value, ensure_ascii=False).encode(),
        json.dumps(value, indent=1, ensure_ascii=False).encode(),
    ):
        assert may_hold_nir(raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        f'{{"a": {NIR}}}'.encode(),
        f'{{"a": {NIR[0]}.{NIR[1:]}e14}}'.encode(),
        f'{{"a": [1, {NIR[0]}.{NIR[1:]}E+14]}}'.encode(),
        f'{{"a":\n  -{NIR[0]}.{NIR[1:]}e14}}'.encode(),
        f"[{NIR[:3]}.{NIR[3:]}e12]".encode(),
        f"{NIR[0]}.{NIR[1:]}e14".encode(),
        f" {NIR}0e-1".encode(),
        f'{{"a": {NIR}.000}}'.encode(),
        f'{{"a": "x\\n{NIR}"}}'.encode(),
        f'{{"{NIR}": 1}}'.encode(),
        f'{{"a": "{FORMS["full-width digits"]}"}}'.encode(),
        f'{{"prenom": "Léa", "a": "{FORMS["non-breaking spaces"]}"}}'.encode(),
        f'{{"prenom": "Zoé", "a": "{FORMS["full-width digits"]}"}}'.encode(),
        f'{{"a": "²{NIR[1:]}", "b": "é"}}'.encode(),
    ],
)
def test_the_raw_pre_scan_sees_disguised_nirs(raw: bytes) -> None:
    assert may_hold_nir(raw) and _refused(orjson.loads(raw))


def test_text_whose_only_other_characters_are_latin_1_letters_is_its_own_nfkc_form() -> None:
    """Why the pre-scan reads such a message as it came: NFKC changes nothing in it, whatever their neighbours."""
    latin = [chr(c) for c in range(0xC0, 0x100)]
    for char in latin:
        assert char.encode()[0] == 0xC3 and not char.isdigit() and not char.isspace()
        for other in [*map(chr, range(0x80)), *latin]:
            assert unicodedata.is_normalized("NFKC", char + other) and unicodedata.is_normalized("NFKC", other + char)


# ---------------------------------------------------------------- no false positive on real feeds


def _every_string(path: Path) -> Iterator[str]:
    for node in etree.parse(str(path)).iter():
        if isinstance(node.tag, str):
            yield node.tag.rpartition("}")[2]
            for name, value in node.items():
                yield str(name)
                yield str(value)
        yield from (t for t in (node.text, node.tail) if t)


def _feeds_are_clean(feeds: list[Path]) -> None:
    assert feeds
    for path in feeds:
        found = [text for text in _every_string(path) if contains_nir(text)]
        assert found == [], path.name
        assert not contains_nir(path.read_text(encoding="utf-8")), path.name


def test_no_string_of_the_repositorys_feeds_is_taken_for_a_nir() -> None:
    _feeds_are_clean(sorted(OWN_LHEO.glob("*.xml")))


def test_no_string_of_the_real_feeds_is_taken_for_a_nir() -> None:
    _feeds_are_clean(real_lheo_feeds())


# ---------------------------------------------------------------- every dialect


def _imilo(**changes: object) -> bytes:
    native = orjson.loads(
        simulated.imilo_message(
            "formation.Positionnement",
            {
                "idDossier": "D-1",
                "idPositionnement": "P-1",
                "jeune": {"nomNaissance": "Nguyen", "prenom": "Théo", "sexe": "M"},
                "codeStructure": "69123S00",
                "idSession": "84:9",
                "datePositionnement": "2026-02-02",
                "dispositif": "PACEA",
            },
        )
    )
    native.update(changes)
    return orjson.dumps(native)


@pytest.mark.parametrize("form", ["hyphens", "non-breaking spaces", "thin spaces", "full-width digits"])
def test_imilo_refuses_every_form(form: str) -> None:
    [out] = imilo_json.parse(_imilo(commentaire=f"NIR {FORMS[form]}"), context("imilo"))
    assert isinstance(out, Rejected) and out.problems[0].code == "nir" and out.problems[0].path == "commentaire"


def test_imilo_refuses_a_nir_sent_as_a_number_or_a_field_name() -> None:
    [number] = imilo_json.parse(_imilo(dossier={"idDossier": "D-1", "niveauQualification": int(NIR)}), context("imilo"))
    assert isinstance(number, Rejected) and number.problems[0].path == "dossier.niveauQualification"
    [key] = imilo_json.parse(_imilo(conseiller={NIR: "Claire"}), context("imilo"))
    assert isinstance(key, Rejected) and key.problems[0].path == "conseiller"
    [event] = imilo_json.parse(_imilo(typeEvenement=FORMS["hyphens"]), context("imilo"))
    assert isinstance(event, Rejected) and event.problems[0].code == "nir"
    for outcome in (number, key, event):
        assert not contains_nir(repr(outcome))


def test_region_json_refuses_a_nir_as_a_number() -> None:
    native = {"evenement": "formation.StatutCandidature", "id_positionnement": int(NIR), "statut": "ADMIS"}
    [out] = region_json.parse(orjson.dumps(native), context("region-24"))
    assert isinstance(out, Rejected) and out.problems[0].path == "id_positionnement" and NIR not in repr(out)


@pytest.mark.parametrize("form", ["hyphens", "non-breaking spaces", "narrow non-breaking spaces"])
def test_region_csv_refuses_every_form_and_keeps_the_other_rows(form: str) -> None:
    subject = "formation.StatutCandidature"
    rows = [
        {
            "idPositionnement": f"P-{i}",
            "pseudonyme": "a" * 64,
            "idSession": "53:1",
            "codeStructure": "35238S00",
            "statut": "ADMIS",
            "dateStatut": "01/03/2026",
            "commentaire": f"NIR {FORMS[form]}" if i == 1 else "rien",
        }
        for i in range(3)
    ]
    payload = simulated.region_csv_file(subject, rows, SHAPES[subject])
    outcomes = list(region_csv.parse(payload, context("region-53", subject)))
    assert [type(o) for o in outcomes] == [Draft, Rejected, Draft]
    assert outcomes[1].problems[0].code == "nir" and outcomes[1].position == "ligne 3"  # type: ignore[union-attr]
    [header] = region_csv.parse(f"id_positionnement;{NIR}\r\nP;x\r\n".encode(), context("region-53", subject))
    assert isinstance(header, Rejected) and header.problems[0].code == "nir" and NIR not in repr(header)


def _lheo(objective: str = "Se qualifier", town: str = "Tours", numero: str = "S1") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<lheo xmlns="http://lheo.gouv.fr/2.3"><offres>
<formation numero="F1"><intitule-formation>Essai</intitule-formation>
<objectif-formation>{objective}</objectif-formation>
<action numero="A1"><session numero="{numero}"><periode><debut>20260901</debut><fin>20261231</fin></periode>
<adresse-inscription><adresse><ville>{town}</ville></adresse></adresse-inscription></session>
<session numero="S2"><periode><debut>20260901</debut><fin>20261231</fin></periode></session></action>
<organisme-formation-responsable><nom-organisme>OF</nom-organisme></organisme-formation-responsable></formation>
<formation numero="F2"><intitule-formation>Autre</intitule-formation>
<action numero="A2"><session numero="S3"><periode><debut>20260901</debut><fin>20261231</fin></periode></session>
</action></formation>
</offres></lheo>""".encode()


CTX = context("region-24", "formation.OffreSession")


def test_lheo_refuses_a_nir_in_the_objective_with_its_formation_only() -> None:
    outcomes = list(parse_lheo(_lheo(objective=f"NIR {FORMS['spaces']}"), CTX))
    assert [type(o) for o in outcomes] == [Rejected, Draft]
    [problem] = outcomes[0].problems  # type: ignore[union-attr]
    assert (problem.code, problem.path) == ("nir", "formation[1]/objectif-formation")
    assert not contains_nir(repr(outcomes[0]))


def test_lheo_refuses_a_nir_in_a_session_with_that_session_only() -> None:
    outcomes = list(parse_lheo(_lheo(town=f"Tours {FORMS['hyphens']}"), CTX))
    assert [type(o) for o in outcomes] == [Rejected, Draft, Draft]
    path = outcomes[0].problems[0].path  # type: ignore[union-attr]
    assert path == "formation[1]/action[1]/session[1]/adresse-inscription/adresse/ville"
    [attribute] = [o for o in parse_lheo(_lheo(numero=NIR), CTX) if isinstance(o, Rejected)]
    assert attribute.problems[0].path == "formation[1]/action[1]/session[1]/@numero"
    assert not contains_nir(repr(attribute))


def test_lheo_reads_character_references() -> None:
    referenced = "".join(f"&#{ord(c)};" for c in NIR)
    [rejected, _other] = parse_lheo(_lheo(objective=referenced), CTX)
    assert isinstance(rejected, Rejected) and rejected.problems[0].code == "nir"
