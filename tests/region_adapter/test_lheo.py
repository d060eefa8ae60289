"""LHEO feeds: every real fixture, field by field against the XML, both namespaces, streamed."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from passerelle.core.contracts.typed import TypedContracts
from passerelle.core.dialect import Draft, Rejected
from passerelle.core.lheo_stream import split_lheo
from services.region_adapter.dialects.lheo import parse_lheo
from tests.dialect_context import context

CTX = context("region-24", "formation.OffreSession")


def _local(tree: etree._ElementTree, name: str) -> list[etree._Element]:
    return [e for e in tree.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name]


def _text(element: etree._Element, path: str) -> str | None:
    for part in path.split("/"):
        found = [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == part]
        if not found:
            return None
        element = found[0]
    return (element.text or "").strip() or None


def _lheo_date(text: str | None) -> str | None:
    if not text or text in ("00000000", "99999999"):
        return None
    return f"{text[:4]}-{text[4:6]}-{'01' if text.endswith('00') else text[6:]}"


def test_every_real_feed_translates_field_by_field(lheo_fixtures: list[Path], typed: TypedContracts) -> None:
    for path in lheo_fixtures:
        tree = etree.parse(str(path))
        sessions = _local(tree, "session")
        outcomes = list(parse_lheo(path.read_bytes(), CTX))
        assert [o for o in outcomes if isinstance(o, Rejected)] == [], path.name
        assert len(outcomes) == len(sessions), path.name
        for draft, session in zip(outcomes, sessions, strict=True):
            assert isinstance(draft, Draft)
            record = typed.validate("formation.OffreSession", draft.record)
            action = session.getparent()
            assert action is not None
            formation = action.getparent()
            assert formation is not None
            assert record["idSession"] == f"24:{session.get('numero')}"
            assert record["intitule"] == _text(formation, "intitule-formation")
            codes = [
                (e.text or "").strip()
                for e in _local(etree.ElementTree(formation), "code-FORMACODE")
                if e.getparent() is not None and etree.QName(e.getparent()).localname == "domaine-formation"
            ]
            assert record["codesFormacode"] == codes
            start = str(record["dateDebut"]) if record["dateDebut"] else None
            assert start == _lheo_date(_text(session, "periode/debut"))
            assert (str(record["dateFin"]) if record["dateFin"] else None) == _lheo_date(_text(session, "periode/fin"))
            rncp = _text(formation, "certification/code-RNCP")
            assert record["codeRncp"] == (f"RNCP{rncp}" if rncp else None)
            assert record["organisme"]["siret"] == _text(
                formation, "organisme-formation-responsable/SIRET-organisme-formation/SIRET"
            )
            commune = _text(session, "adresse-inscription/adresse/code-INSEE-commune")
            assert (record["adresseInscription"] or {}).get("codeInseeCommune") == commune
            funders = [_text(f, "code-financeur") for f in action if etree.QName(f).localname == "organisme-financeur"]
            assert [f["codeFinanceur"] for f in record["financeurs"]] == funders


def test_unknown_dates_and_month_precision() -> None:
    feed = _feed("00000000", "99999999")
    [draft] = parse_lheo(feed, CTX)
    assert isinstance(draft, Draft)
    assert (draft.record["dateDebut"], draft.record["precisionDateDebut"]) == (None, "INCONNU")
    assert (draft.record["dateFin"], draft.record["precisionDateFin"]) == (None, "INCONNU")
    [month] = parse_lheo(_feed("20260900", "20261231"), CTX)
    assert isinstance(month, Draft)
    assert (month.record["dateDebut"], month.record["precisionDateDebut"]) == ("2026-09-01", "MOIS")


def test_lheo_23_namespace_translates_like_22(lheo_fixtures: list[Path]) -> None:
    original = lheo_fixtures[0].read_bytes()
    v23 = original.replace(b"http://www.lheo.org/2.2", b"http://lheo.gouv.fr/2.3")
    a, b = list(parse_lheo(original, CTX)), list(parse_lheo(v23, CTX))
    assert [o.record | {"versionLheo": "x"} for o in a] == [o.record | {"versionLheo": "x"} for o in b]  # type: ignore[union-attr]
    assert {o.record["versionLheo"] for o in b} == {"2.3"}  # type: ignore[union-attr]


def test_bad_input_is_rejected_precisely() -> None:
    [bad_date] = parse_lheo(_feed("20261345", "20261231"), CTX)
    assert isinstance(bad_date, Rejected) and bad_date.problems[0].path.endswith("periode/debut")
    [bad_code] = parse_lheo(_feed("20260901", "20261231", formacode="22A"), CTX)
    assert isinstance(bad_code, Rejected) and bad_code.problems[0].rule == "format_formacode"
    truncated = _feed("20260901", "20261231")[:-40]
    outcomes = list(parse_lheo(truncated, CTX))
    assert isinstance(outcomes[-1], Rejected) and outcomes[-1].problems[0].code == "xml"
    [garbage] = parse_lheo(b"<<<", CTX)
    assert isinstance(garbage, Rejected)


def test_split_pieces_translate_like_the_whole_feed(lheo_fixtures: list[Path]) -> None:
    whole = b"".join(p.read_bytes().split(b"<offres>", 1)[1].rsplit(b"</offres>", 1)[0] for p in lheo_fixtures)
    feed = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<lheo xmlns="http://www.lheo.org/2.2"><offres>'
        + whole
        + b"</offres></lheo>"
    )
    read: list[int] = []
    pieces = list(split_lheo(io.BytesIO(feed), max_bytes=min(40_000, len(feed) // 3), progress=read.append))
    assert len(pieces) > 1 and sum(read) == len(feed)
    assert [o.record for p in pieces for o in parse_lheo(p, CTX)] == [o.record for o in parse_lheo(feed, CTX)]  # type: ignore[union-attr]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="0123456789", min_size=0, max_size=10), st.text(max_size=8))
def test_any_date_or_code_never_raises(date: str, code: str) -> None:
    for outcome in parse_lheo(_feed(date or "x", "20261231", formacode=code), CTX):
        assert isinstance(outcome, Draft | Rejected)


def _feed(start: str, end: str, formacode: str = "22403") -> bytes:
    from xml.sax.saxutils import escape

    return f"""<?xml version="1.0" encoding="utf-8"?>
<lheo xmlns="http://lheo.gouv.fr/2.3"><offres><formation numero="F1">
<domaine-formation><code-FORMACODE>{escape(formacode)}</code-FORMACODE></domaine-formation>
<intitule-formation>Essai</intitule-formation><certifiante>0</certifiante>
<action numero="A1"><session numero="S1"><periode><debut>{escape(start)}</debut><fin>{end}</fin></periode>
<etat-recrutement>1</etat-recrutement></session></action>
<organisme-formation-responsable><nom-organisme>OF</nom-organisme></organisme-formation-responsable>
</formation></offres></lheo>""".encode()
