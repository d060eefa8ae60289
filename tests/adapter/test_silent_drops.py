"""Nothing dropped or corrupted in silence: a document that is not LHEO, a CSV quote left open, a file in another
encoding than its profile declares each get a readable refusal, and the good items around them go through."""

from __future__ import annotations

import io

import pytest

from passerelle.core.dialect import Draft, Rejected
from passerelle.core.lheo_stream import split_lheo
from services.region_adapter.dialects import region_csv, region_json
from services.region_adapter.dialects.lheo import parse_lheo
from tests.dialect_context import context
from tests.translator import incoming, translator

OFFER = "formation.OffreSession"
STATUS = "formation.StatutCandidature"
FORMATION = (
    "<formation><intitule-formation>Maçon</intitule-formation><action><session numero='S1'>"
    "<periode><debut>20260901</debut><fin>20261231</fin></periode></session></action></formation>"
)


def _lheo(namespace: str = "http://lheo.gouv.fr/2.3", root: str = "lheo", formations: str = FORMATION) -> bytes:
    return f"<{root} xmlns='{namespace}'><offres>{formations}</offres></{root}>".encode()


@pytest.mark.parametrize(
    ("document", "found"),
    [
        (_lheo("http://www.lheo.org/2.4"), "espace de noms inconnu"),
        (_lheo("urn:autre"), "espace de noms inconnu"),
        (_lheo("", root="catalogue"), "racine <catalogue>"),
        (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Erreur 502</title></head></html>", "page HTML"),
        (b"<html xmlns='http://www.w3.org/1999/xhtml'><body><p>Maintenance</p></body></html>", "page HTML"),
    ],
)
def test_a_document_that_is_not_lheo_is_refused_with_the_expected_namespaces(document: bytes, found: str) -> None:
    [refused] = parse_lheo(document, context("region-24", OFFER))
    assert isinstance(refused, Rejected)
    [problem] = refused.problems
    assert problem.code == "pas_lheo" and found in problem.message
    assert "http://lheo.gouv.fr/2.3" in problem.message and "http://www.lheo.org/2.2" in problem.message
    seen = translator("region-24").run(incoming("region-24", document, ce_type=OFFER))
    assert seen.problems == ["pas_lheo"] and not seen.canonical


def test_an_empty_feed_and_an_undeclared_latin_1_feed_say_why() -> None:
    [empty] = parse_lheo(_lheo(formations=""), context("region-24", OFFER))
    assert isinstance(empty, Rejected) and empty.problems[0].code == "vide"
    latin = _lheo().decode().encode("latin-1")
    [unreadable] = parse_lheo(latin, context("region-24", OFFER))
    assert isinstance(unreadable, Rejected) and "ISO-8859-1" in unreadable.problems[0].message
    assert "0xE7" not in unreadable.problems[0].message  # libxml2 quotes the bytes; the sender's text stays out
    declared = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + latin
    [draft] = parse_lheo(declared, context("region-24", OFFER))
    assert isinstance(draft, Draft) and draft.record["intitule"] == "Maçon"


HEADER = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut;commentaire\r\n"


def _row(i: int, comment: str = "ok") -> str:
    return f"P-{i};{'b' * 64};53:1;35238S00;ADMIS;01/03/2026;{comment}\r\n"


def _parsed(text: str | bytes, encoding: str = "utf-8") -> list[tuple[str, str | None, str | None]]:
    payload = text.encode(encoding) if isinstance(text, str) else text
    return [
        (type(o).__name__, o.position, o.problems[0].rule if isinstance(o, Rejected) else None)
        for o in region_csv.parse(payload, context("region-53", STATUS, encoding))
    ]


@pytest.mark.parametrize(
    "bad",
    [
        _row(2, '"oups'),  # the last cell opens a quote that the next rows would have filled
        '"P-2;x;y\r\n',
        _row(2, '"oui"non'),  # text after a closing quote
    ],
)
def test_a_quote_left_open_refuses_its_row_and_not_the_rows_after(bad: str) -> None:
    parsed = _parsed(HEADER + _row(1) + bad + _row(3) + _row(4))
    expected = [("Draft", "ligne 2", None), ("Rejected", "ligne 3", "guillemet")]
    assert parsed == [*expected, ("Draft", "ligne 4", None), ("Draft", "ligne 5", None)]


def test_a_quote_open_at_the_end_of_the_file_and_quotes_that_are_fine() -> None:
    assert _parsed(HEADER + _row(1) + _row(2, '"oups'))[-1] == ("Rejected", "ligne 3", "guillemet")
    fine = _parsed(HEADER + _row(1, '"deux\r\nlignes"') + _row(2, 'il a dit "oui') + _row(3, '"un ""mot"""'))
    assert fine == [("Draft", "ligne 2", None), ("Draft", "ligne 4", None), ("Draft", "ligne 5", None)]
    [first, *_] = region_csv.parse((HEADER + _row(1, '"deux\r\nlignes"')).encode(), context("region-53", STATUS))
    assert isinstance(first, Draft) and first.record["commentaire"] == "deux\r\nlignes"


@pytest.mark.parametrize(
    ("payload", "declared", "rejected"),
    [
        ((HEADER + _row(1, "élève") + _row(2)).encode("utf-8"), "latin-1", "ligne 2"),  # UTF-8 read as latin-1
        ((HEADER + _row(1, "l’élève") + _row(2, "été")).encode("cp1252"), "latin-1", "ligne 2"),  # ’ is 0x92
        ((HEADER + _row(1, "œuvre 10 €") + _row(2)).encode("cp1252"), "latin-1", "ligne 2"),
        ((HEADER + _row(1, "élève") + _row(2)).encode("latin-1"), "utf-8", "ligne 2"),  # invalid UTF-8
        (b"\xef\xbb\xbf" + (HEADER + _row(1)).encode(), "latin-1", "ligne 1"),  # a UTF-8 byte-order mark
    ],
)
def test_text_in_another_encoding_than_declared_is_refused_never_delivered_as_mojibake(
    payload: bytes, declared: str, rejected: str
) -> None:
    outcomes = list(region_csv.parse(payload, context("region-53", STATUS, declared)))
    refused = [o for o in outcomes if isinstance(o, Rejected)]
    assert [r.position for r in refused] == [rejected] and refused[0].problems[0].code == "encodage"
    assert all(isinstance(o, Draft) for o in outcomes if o not in refused)
    for draft in outcomes:
        if isinstance(draft, Draft):
            assert "Ã" not in str(draft.record) and not any("\x80" <= c <= "\x9f" for c in str(draft.record))


def test_latin_1_as_declared_goes_through() -> None:
    text = HEADER + _row(1, "élève, cœur ? non : cÅ“ur n'existe pas en latin-1") + _row(2, "déjà")
    assert [o for o, _, _ in _parsed(text.replace("œ", "oe").replace("Å“", "oe"), "latin-1")] == ["Draft"] * 2


def test_json_that_is_not_utf_8_says_so() -> None:
    [refused] = region_json.parse(
        b'{"evenement": "formation.StatutCandidature", "commentaire": "\xe9t\xe9"}', context("region-24")
    )
    assert isinstance(refused, Rejected) and "UTF-8" in refused.problems[0].message


def test_a_formation_without_sessions_says_so() -> None:
    """Found by the fuzz suite: a formation whose action was dropped yielded nothing at all."""
    empty = "<formation><intitule-formation>Vide</intitule-formation></formation>"
    outcomes = list(parse_lheo(_lheo(formations=empty + FORMATION), context("region-24", OFFER)))
    assert [type(o) for o in outcomes] == [Rejected, Draft]
    assert outcomes[0].problems[0].code == "vide" and outcomes[0].position == "formation 1"  # type: ignore[union-attr]


_LAUGHS = '<!DOCTYPE lheo [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
_XXE = '<!DOCTYPE lheo [<!ENTITY x SYSTEM "file:///etc/hostname">]>'


@pytest.mark.parametrize(("declaration", "reference"), [(_LAUGHS, "&b;"), (_XXE, "&x;")])
def test_a_feed_declaring_entities_is_refused_whole_and_says_so(declaration: str, reference: str) -> None:
    formation = FORMATION.replace("Maçon", reference)
    document = f"<?xml version='1.0'?>{declaration}{_lheo(formations=FORMATION + formation).decode()}".encode()
    [refused] = parse_lheo(document, context("region-24", OFFER))  # the good formation beside it is not taken
    assert isinstance(refused, Rejected)
    [problem] = refused.problems
    assert problem.code == "xml" and "entités XML déclarées" in problem.message and problem.path == "DOCTYPE"
    with pytest.raises(SyntaxError, match="entités XML déclarées"):  # what the gateway and ingest cut first
        list(split_lheo(io.BytesIO(document)))
