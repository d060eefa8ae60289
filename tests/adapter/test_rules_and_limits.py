"""Rules every dialect applies before translating (ids, duplicate keys and columns, control and bidirectional
characters) and the limits on a message, a field, the nesting and the number of items; CSV out is inert in a
spreadsheet."""

from __future__ import annotations

import datetime as dt
import json
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.dialect import Draft, InboundContext, OutboundContext, Rejected
from passerelle.core.limits import Limits
from passerelle.core.native_json import JsonMessage, read_json
from passerelle.settings import Settings
from passerelle.simulation import native as simulated
from services.milo_adapter.dialects import imilo_json
from services.region_adapter.dialects import region_csv, region_json
from services.region_adapter.dialects.lheo import parse_lheo
from tests.adapter.samples import status_item
from tests.dialect_context import PSEUDO, SHAPES, context
from tests.translator import Recording, incoming, translator

STATUS = "formation.StatutCandidature"
OFFER = "formation.OffreSession"
PSEUDONYM = "b" * 64


def _imilo(**changes: object) -> dict[str, object]:
    native: dict[str, object] = orjson.loads(
        simulated.imilo_message(
            "formation.Positionnement",
            {
                "idDossier": "D-1",
                "idPositionnement": "P-1",
                "codeStructure": "69123S00",
                "idSession": "84:9",
                "datePositionnement": "2026-02-02",
                "dispositif": "PACEA",
            },
        )
    )
    native.update(changes)
    return native


def _status(**changes: object) -> dict[str, object]:
    return {"evenement": STATUS, **status_item(**changes)}


def _one(outcomes: object) -> Rejected:
    [only] = list(outcomes)  # type: ignore[call-overload]
    assert isinstance(only, Rejected), only
    return only


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("value", [True, False, 1.5, ["D-1"], {"id": "D-1"}])
def test_an_id_a_pseudonym_is_made_from_is_text_or_a_whole_number(value: object) -> None:
    native = _imilo()
    native["dossier"] = {"idDossier": value}
    rejected = _one(imilo_json.parse(orjson.dumps(native), context("imilo")))
    assert [(p.path, p.code) for p in rejected.problems] == [("dossier.idDossier", "type")]
    signalled = {
        "evenement": "reperage.SignalementDecrochage",
        "id_signalement": "S1",
        "region": "53",
        "date_signalement": "2026-02-01",
        "source": "SIEI",
        "situation": "DECROCHAGE",
        "jeune": {"id_jeune": value},
    }
    refused = _one(region_json.parse(orjson.dumps(signalled), context("region-53")))
    assert refused.problems[0].path == "jeune.id_jeune"


def test_a_whole_number_is_still_an_id() -> None:
    native = _imilo()
    native["dossier"] = {"idDossier": 42}
    [draft] = imilo_json.parse(orjson.dumps(native), context("imilo"))
    assert isinstance(draft, Draft) and draft.key == PSEUDO("imilo", "42")


# ---------------------------------------------------------------- duplicate keys and columns


@pytest.mark.parametrize(
    "raw",
    [
        b'{"evenement": "formation.StatutCandidature", "statut": "REFUSE", "statut": "ADMIS"}',
        b'{"evenement": "formation.StatutCandidature", "statut" : "REFUSE",\n "statut":"ADMIS"}',
        b'{"evenement": "formation.StatutCandidature", "\\u0073tatut": "REFUSE", "statut": "ADMIS"}',
        b'{"evenement": "formation.StatutCandidature", "jeune": {"ine": "1", "ine": "2"}, "statut": "ADMIS"}',
        # The escaped colon stands in for the one the dropped key took: the colon counts alone would agree.
        b'{"evenement": "formation.StatutCandidature", "commentaire": "\\u003a", "statut": "R", "statut": "A"}',
    ],
)
def test_a_key_given_twice_is_refused_not_settled_in_silence(raw: bytes) -> None:
    rejected = _one(region_json.parse(raw, context("region-24")))
    assert rejected.problems[0].code == "cle_en_double" and "statut" in rejected.problems[0].message + "statut"


def test_a_duplicate_refuses_its_item_only() -> None:
    good = json.dumps(_status())
    raw = f'[{good}, {{"evenement": "{STATUS}", "statut": "A", "statut": "B"}}, {good}]'.encode()
    outcomes = list(region_json.parse(raw, context("region-24")))
    assert [type(o) for o in outcomes] == [Draft, Rejected, Draft]
    assert outcomes[1].problems[0].path == "[1]"  # type: ignore[union-attr]


def test_keys_that_look_alike_in_the_raw_text_are_not_duplicates() -> None:
    text = _status(commentaire='il a écrit "statut": fini, et "\\u0022" aussi')
    assert isinstance(next(iter(region_json.parse(json.dumps(text).encode(), context("region-24")))), Draft)


_NAMES = st.sampled_from(["a", "b", "statut", "é", 'q"', "x y", "h:m", ":"])
_LEAVES = st.one_of(st.integers(), st.text(alphabet='ab": \\\u00e9:', max_size=6), st.none())
_PAIRS: st.SearchStrategy[object] = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.lists(st.tuples(_NAMES, inner), max_size=4)),
    max_leaves=10,
)


def _dump(value: object, ascii_only: bool, spaced: bool) -> str:
    """JSON text of ``value`` where a list of (name, value) pairs is an object, duplicates kept."""
    colon = " : " if spaced else ":"
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        inner = ", ".join(
            f"{json.dumps(k, ensure_ascii=ascii_only)}{colon}{_dump(v, ascii_only, spaced)}" for k, v in value
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v, ascii_only, spaced) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _has_duplicates(value: object) -> bool:
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        names = [k for k, _ in value]
        return len(names) != len(set(names)) or any(_has_duplicates(v) for _, v in value)
    return isinstance(value, list) and any(_has_duplicates(v) for v in value)


@settings(max_examples=300, deadline=None)
@given(_PAIRS, st.booleans(), st.booleans())
def test_the_fast_path_never_misses_a_duplicate_key(value: object, ascii_only: bool, spaced: bool) -> None:
    if not _has_duplicates(value):
        return
    read = read_json(_dump(value, ascii_only, spaced).encode())
    assert isinstance(read, JsonMessage)
    codes = {p.code for item in read.items for p in item.problems}
    # An integer may be a valid NIR (375672371884939 is one): a NIR is then refused alone, its item's other
    # problems left unsaid so that nothing echoes it.
    assert "cle_en_double" in codes or codes == {"nir"}, codes


def test_a_duplicate_key_beside_a_nir_is_refused_for_the_nir_alone() -> None:
    for number, codes in ((375672371884939, ["nir"]), (375672371884930, ["cle_en_double"])):
        read = read_json(b'{"a": null, "a": %d}' % number)
        assert isinstance(read, JsonMessage)
        assert [p.code for item in read.items for p in item.problems] == codes


def test_a_column_given_twice_is_refused() -> None:
    payload = b"id_positionnement;statut;statut\r\nP;ADMIS;REFUSE\r\n"
    rejected = _one(region_csv.parse(payload, context("region-53", STATUS)))
    assert rejected.problems[0].code == "colonne_en_double" and rejected.position == "ligne 1"


# ---------------------------------------------------------------- control and bidirectional characters


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a\x00b", "caractere_controle"),
        ("a\x1b[31mb", "caractere_controle"),
        ("a\x7fb", "caractere_controle"),
        ("a\x85b", "caractere_controle"),
        ("a\u202eb", "caractere_bidi"),
        ("a\u2066b\u2069", "caractere_bidi"),
        ("a\ud800b", "caractere_invalide"),
    ],
)
def test_control_and_bidirectional_characters_are_refused_with_the_path(text: str, rule: str) -> None:
    raw = json.dumps(_status(commentaire=text)).encode()  # escaped: \u0000, \u202e...
    rejected = _one(region_json.parse(raw, context("region-24")))
    assert [(p.path, p.rule) for p in rejected.problems] == [("commentaire", rule)]
    if rule != "caractere_invalide":  # raw UTF-8, as most senders write it
        rejected = _one(
            imilo_json.parse(json.dumps(_imilo(commentaire=text), ensure_ascii=False).encode(), context("imilo"))
        )
        assert [(p.path, p.rule) for p in rejected.problems] == [("commentaire", rule)]


def test_tab_and_line_breaks_are_text() -> None:
    raw = json.dumps(_status(commentaire="ligne 1\r\n\tligne 2")).encode()
    assert isinstance(next(iter(region_json.parse(raw, context("region-24")))), Draft)


@pytest.mark.parametrize(("text", "rule"), [("a\x1bb", "caractere_controle"), ("a\u202eb", "caractere_bidi")])
def test_csv_cells_and_lheo_texts_too(text: str, rule: str) -> None:
    header = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut;commentaire\r\n"
    rows = "".join(f"P-{i};{PSEUDONYM};53:1;35238S00;ADMIS;01/03/2026;{text if i == 2 else 'ok'}\r\n" for i in range(3))
    outcomes = list(region_csv.parse((header + rows).encode(), context("region-53", STATUS)))
    assert [type(o) for o in outcomes] == [Draft, Draft, Rejected]
    assert [(p.path, p.rule) for p in outcomes[2].problems] == [("commentaire", rule)]  # type: ignore[union-attr]
    feed = f"""<lheo xmlns="http://lheo.gouv.fr/2.3"><offres><formation><intitule-formation>T</intitule-formation>
<action><session numero="S1"><periode><debut>20260901</debut><fin>20261231</fin></periode>
<adresse-inscription><adresse><ville>{text}</ville></adresse></adresse-inscription></session>
<session numero="S2"><periode><debut>20260901</debut><fin>20261231</fin></periode></session></action>
</formation></offres></lheo>""".replace("\x1b", "\x85").encode()  # XML 1.0 has no ESC at all: its C1 cousin
    first, second = parse_lheo(feed, context("region-24", OFFER))
    assert isinstance(first, Rejected) and isinstance(second, Draft)
    assert first.problems[0].path == "formation[1]/action[1]/session[1]/adresse-inscription/adresse/ville"


# ---------------------------------------------------------------- limits


def _small(partner: str, event: str | None = None, **limits: int) -> InboundContext:
    ctx = context(partner, event)
    return InboundContext(
        ctx.partner, ctx.pseudonymiser, ctx.event_type, ctx.encoding, ctx.extras, ctx.shapes, Limits(**limits)
    )


def test_a_message_over_the_size_limit_is_refused_before_it_is_read() -> None:
    big = b"[" + b" " * (8 * 1024 * 1024) + b"]"
    for parsed in (
        region_json.parse(big, context("region-24")),
        imilo_json.parse(big, context("imilo")),
        region_csv.parse(big, context("region-53", STATUS)),
        parse_lheo(big, context("region-24", OFFER)),
    ):
        refused = _one(parsed)
        assert refused.problems[0].rule == "limite_taille_message" and "8,0 Mio au plus" in refused.problems[0].message


def test_a_field_over_the_length_limit_refuses_its_item() -> None:
    long = "x" * (64 * 1024 + 1)
    outcomes = list(region_json.parse(orjson.dumps([_status(commentaire=long), _status()]), context("region-24")))
    assert [type(o) for o in outcomes] == [Rejected, Draft]
    assert outcomes[0].problems[0].rule == "limite_taille_champ"  # type: ignore[union-attr]
    assert outcomes[0].problems[0].path == "[0].commentaire"  # type: ignore[union-attr]
    feed = f"""<lheo><offres><formation><intitule-formation>T</intitule-formation><objectif-formation>{long}
</objectif-formation><action><session><periode><debut>20260901</debut><fin>20261231</fin></periode></session>
</action></formation></offres></lheo>""".encode()
    refused = _one(parse_lheo(feed, context("region-24", OFFER)))
    assert refused.problems[0].rule == "limite_taille_champ"


def test_nesting_deeper_than_the_limit_refuses_its_item() -> None:
    deep: object = "x"
    for _ in range(40):
        deep = {"a": deep}
    outcomes = list(region_json.parse(orjson.dumps([_status(extra=deep), _status()]), context("region-24")))
    assert [type(o) for o in outcomes] == [Rejected, Draft]
    assert outcomes[0].problems[0].rule == "limite_profondeur"  # type: ignore[union-attr]
    refused = _one(region_json.parse(b"[" * 2000 + b"]" * 2000, context("region-24")))
    assert refused.problems[0].rule == "limite_profondeur"


@pytest.mark.parametrize("dialect", ["json", "csv", "lheo"])
def test_too_many_items_are_refused_before_the_work(dialect: str) -> None:
    if dialect == "json":
        outcomes = region_json.parse(orjson.dumps([_status()] * 4), _small("region-24", items=3))
    elif dialect == "csv":
        rows = [{"idPositionnement": f"P-{i}", "statut": "ADMIS"} for i in range(4)]
        payload = simulated.region_csv_file(STATUS, rows, SHAPES[STATUS])
        outcomes = region_csv.parse(payload, _small("region-53", STATUS, items=3))
    else:
        session = "<session><periode><debut>20260901</debut><fin>20261231</fin></periode></session>"
        feed = f"<lheo><offres><formation><intitule-formation>T</intitule-formation><action>{session * 4}</action>"
        outcomes = parse_lheo(f"{feed}</formation></offres></lheo>".encode(), _small("region-24", OFFER, items=3))
    assert _one(outcomes).problems[0].rule == "limite_nombre_elements"


def test_the_limits_come_from_the_settings() -> None:
    base = translator("region-24")
    ctx = base.ctx.__class__(**{**base.ctx.__dict__, "settings": Settings(inbound_max_items=2)})
    small = Recording(ctx, base.dialects)
    seen = small.run(incoming("region-24", orjson.dumps([_status()] * 3)))
    assert seen.problems == ["limite"] and re.search(r"3 éléments, 2 au plus", seen.rejected[0].problems[0].message)


# ---------------------------------------------------------------- JSON no type holds


def test_numbers_no_type_holds_refuse_their_item_only() -> None:
    good = json.dumps(_status())
    raw = f'[{good}, {{"evenement": "{STATUS}", "rang_liste_attente": {"9" * 5000}}}, {good}]'.encode()
    outcomes = list(region_json.parse(raw, context("region-24")))
    assert [type(o) for o in outcomes] == [Draft, Rejected, Draft]
    assert outcomes[1].problems[0].path == "[1].rang_liste_attente"  # type: ignore[union-attr]
    nan = _one(
        region_json.parse(
            b'{"evenement": "formation.StatutCandidature", "rang_liste_attente": NaN}', context("region-24")
        )
    )
    assert nan.problems[0].path == "rang_liste_attente"


# ---------------------------------------------------------------- CSV out


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_out_is_inert_in_a_spreadsheet(start: str) -> None:
    record = {
        "idPositionnement": "P",
        "jeune": {"pseudonyme": PSEUDONYM, "nomNaissance": f'{start}HYPERLINK("http://x")', "sexe": "F"},
        "codeStructure": "37261S00",
        "idSession": "24:1",
        "datePositionnement": dt.date(2026, 3, 1),
        "dispositif": "CEJ",
        "commentaire": "ok",
    }
    rendered = region_csv.render(
        "formation.Positionnement", record, OutboundContext(SHAPES["formation.Positionnement"])
    )
    row = rendered.payload.decode().split("\r\n")[1]
    assert f";'{start}HYPERLINK" in row or f";\"'{start}HYPERLINK" in row


def test_numbers_out_keep_their_sign() -> None:
    record = {"idPositionnement": "P", "pseudonyme": PSEUDONYM, "statut": "ADMIS", "rangListeAttente": -3}
    rendered = region_csv.render(STATUS, record, OutboundContext(SHAPES[STATUS]))
    assert ";-3;" in rendered.payload.decode() and "'-3" not in rendered.payload.decode()
