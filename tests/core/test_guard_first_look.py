"""The guard's first look over raw bytes never misses a character the field-by-field rule refuses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.first_look import classes_of
from passerelle.core.guard import forbidden_character, may_hold_forbidden
from passerelle.core.privacy import may_hold_nir

# French text around the characters that matter: accents, « », ’, nbsp, C1 controls, bidi controls.
_TEXTS = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("é«»’\u00a0\u0085\u009f\u202e\u2066\u2069\u2028\x00\x07\x1f\x7f"),
    ),
    max_size=40,
)


@given(_TEXTS)
def test_the_first_look_finds_whatever_the_rule_refuses(text: str) -> None:
    if forbidden_character(text, "champ") is not None:
        data = text.encode("utf-8")
        assert may_hold_forbidden(data) and may_hold_forbidden(data, classes_of(data))


@given(_TEXTS)
def test_the_shared_first_look_clears_only_what_the_guards_own_looks_clear(text: str) -> None:
    data = text.encode("utf-8")
    classes = classes_of(data)
    assert may_hold_forbidden(data, classes) == may_hold_forbidden(data)
    assert may_hold_nir(data, classes) == may_hold_nir(data)


@given(_TEXTS)
def test_text_without_a_c2_or_e2_lead_byte_or_control_passes_the_first_look(text: str) -> None:
    data = text.encode("utf-8")
    if not any((b < 0x20 and b not in (0x09, 0x0A, 0x0D)) or b in (0x7F, 0xC2, 0xE2) for b in data):
        assert not may_hold_forbidden(data)
