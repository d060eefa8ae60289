"""Data-protection views without a broker: what a recipient's view withholds, what it keeps, what it reports.

``tests/router/test_views.py`` proves a full view is the canonical bytes; here, field by field, for every
contract and every possible view, that the plan keeps exactly the allowed fields.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.partners import Profiles, Reception
from passerelle.core.views import Plan, ViewPlans, Withheld, apply_plan, compile_applier, compile_plan
from passerelle.settings import PROJECT_ROOT
from tests.e2e.full_records import full_record

CATEGORIES = ("identite", "contact", "sensible")
# Every view a profile can declare: each subset of the categories, with and without free text.
VIEWS = [
    (frozenset(subset), free_text)
    for n in range(len(CATEGORIES) + 1)
    for subset in itertools.combinations(CATEGORIES, n)
    for free_text in (False, True)
]
PSEUDONYM = "b" * 64
SUBJECTS = sorted(Catalogue.load(PROJECT_ROOT / "schemas" / "avro").subjects)


def reception(categories: frozenset[str] | tuple[str, ...], free_text: bool) -> Reception:
    return Reception.model_validate({"dialecte": "imilo-json", "vue": sorted(categories), "texte_libre": free_text})


def applied(plan: Plan, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``apply_plan``'s answer, which the applier compiled from the same plan (what the router runs) must give."""
    answer = apply_plan(plan, record)
    compiled = compile_applier(plan)(record, "")
    assert compiled == answer
    assert [type(v) for v in compiled[0].values()] == [type(v) for v in answer[0].values()]
    return answer


# ---- An independent statement of the rule, leaf by leaf ------------------------------------------------------


def _named_records(avro: Any, found: dict[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    if isinstance(avro, list):
        for branch in avro:
            _named_records(branch, found)
    elif isinstance(avro, Mapping):
        if avro.get("type") == "record":
            found[avro["name"]] = avro
            found[f"{avro.get('namespace')}.{avro['name']}"] = avro
            for field in avro["fields"]:
                _named_records(field["type"], found)
        elif avro.get("type") == "array":
            _named_records(avro["items"], found)
    return found


def _record_in(avro: Any, named: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    branches = avro if isinstance(avro, list) else [avro]
    for branch in branches:
        resolved = named.get(branch) if isinstance(branch, str) else branch
        if isinstance(resolved, Mapping) and resolved.get("type") == "record":
            return resolved
    return None


def leaves(schema: Mapping[str, Any]) -> Iterator[list[Mapping[str, Any]]]:
    """Every leaf field (a non-record value, arrays included) as the chain of fields leading to it."""
    named = _named_records(schema, {})

    def walk(record: Mapping[str, Any], chain: list[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
        for field in record["fields"]:
            nested = _record_in(field["type"], named)
            if nested is None:
                yield [*chain, field]
            else:
                yield from walk(nested, [*chain, field])

    return walk(schema, [])


def visible(field: Mapping[str, Any], categories: frozenset[str], free_text: bool) -> bool:
    return (field.get("pii") is None or field["pii"] in categories) and (free_text or not field.get("texte_libre"))


def at(record: Any, names: list[str]) -> Any:
    for name in names:
        record = record[name]
    return record


def assert_exactly_the_view(
    schema: Mapping[str, Any], full: dict[str, Any], categories: frozenset[str], free_text: bool
) -> None:
    out, delivered = applied(compile_plan(schema, categories, free_text), full)
    expected_delivered = set()
    for chain in leaves(schema):
        names = [f["name"] for f in chain]
        hidden = next((i for i, f in enumerate(chain) if not visible(f, categories, free_text)), None)
        if hidden is None:
            assert at(out, names) == at(full, names), names
            expected_delivered.add(".".join(names))
        else:
            # The outermost field outside the view is its contract default; nothing below it survives.
            assert at(out, names[: hidden + 1]) == chain[hidden].get("default"), names
    assert set(delivered) == expected_delivered
    assert len(delivered) == len(set(delivered))


# ---- Every contract, every view ------------------------------------------------------------------------------


def test_the_contracts_hold_every_kind_of_field_the_views_treat(catalogue: Catalogue) -> None:
    # The exhaustive test below means something only if these all occur somewhere.
    kinds: set[str] = set()
    for subject in catalogue:
        for chain in leaves(catalogue.latest(subject).schema):
            kinds.update(f"pii:{f['pii']}" for f in chain if f.get("pii"))
            kinds.update("texte_libre" for f in chain if f.get("texte_libre"))
            kinds.add("imbrique" if len(chain) > 1 else "racine")
    assert kinds >= {"pii:identite", "pii:contact", "pii:sensible", "texte_libre", "imbrique", "racine"}


@pytest.mark.parametrize("subject", SUBJECTS)
def test_every_view_of_every_contract_keeps_exactly_the_allowed_fields(catalogue: Catalogue, subject: str) -> None:
    schema = catalogue.latest(subject).schema
    full = full_record(schema)
    for categories, free_text in VIEWS:
        assert_exactly_the_view(schema, full, categories, free_text)


def test_the_pseudonym_is_delivered_whatever_the_view(catalogue: Catalogue) -> None:
    checked = 0
    for subject in catalogue:
        schema = catalogue.latest(subject).schema
        full = full_record(schema)
        for chain in leaves(schema):
            names = [f["name"] for f in chain]
            if names[-1] != "pseudonyme":
                continue
            for categories, free_text in VIEWS:
                out, delivered = applied(compile_plan(schema, categories, free_text), full)
                assert at(out, names) == PSEUDONYM and ".".join(names) in delivered
                checked += 1
    assert checked == 9 * len(VIEWS)  # nine contracts name a young person


# ---- One view spelled out ------------------------------------------------------------------------------------


def test_a_region_seeing_identity_only_gets_this_positionnement(catalogue: Catalogue) -> None:
    schema = catalogue.latest("formation.Positionnement").schema
    full = full_record(schema)
    full["jeune"]["sexe"] = "F"
    out, delivered = applied(compile_plan(schema, frozenset({"identite"}), False), full)
    assert out["jeune"] == {
        "pseudonyme": PSEUDONYM,
        "nomNaissance": "texte",
        "nomUsage": "texte",
        "prenom": "texte",
        "dateNaissance": full["jeune"]["dateNaissance"],
        "sexe": "F",
        "ine": "123456789AB",
        "courriel": None,
        "telephone": None,
        "codePostal": None,
        "codeInseeCommune": None,
        "niveauQualification": 3,
        "rqth": None,
    }
    assert out["conseiller"] == "texte"  # identity of the adviser, at the top level
    assert (out["courrielConseiller"], out["commentaire"]) == (None, None)
    assert sorted(delivered) == [
        "codeRomeVise",
        "codeStructure",
        "conseiller",
        "datePositionnement",
        "dispositif",
        "idPositionnement",
        "idSession",
        "jeune.dateNaissance",
        "jeune.ine",
        "jeune.niveauQualification",
        "jeune.nomNaissance",
        "jeune.nomUsage",
        "jeune.prenom",
        "jeune.pseudonyme",
        "jeune.sexe",
        "nomStructure",
        "regionDestinataire",
    ]


def test_a_withheld_enum_becomes_its_unknown_symbol_not_null(catalogue: Catalogue) -> None:
    schema = catalogue.latest("aide.DemandeAide").schema
    full = full_record(schema)
    full["jeune"]["sexe"] = "M"
    out, _ = applied(compile_plan(schema, frozenset({"contact", "sensible"}), True), full)
    assert out["jeune"]["sexe"] == "INCONNU"
    assert out["jeune"]["rqth"] is True and out["commentaire"] == "texte"


def test_free_text_is_withheld_unless_the_view_asks_for_it(catalogue: Catalogue) -> None:
    schema = catalogue.latest("formation.StatutCandidature").schema
    full = {**full_record(schema), "commentaire": "rappeler mardi"}
    everything = frozenset(CATEGORIES)
    out, delivered = applied(compile_plan(schema, everything, False), full)
    assert out["commentaire"] is None and "commentaire" not in delivered
    out, delivered = applied(compile_plan(schema, frozenset(), True), full)
    assert out["commentaire"] == "rappeler mardi" and "commentaire" in delivered


# ---- Small contracts for the cases the shipped ones do not hold ---------------------------------------------


def _field(name: str, avro: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": avro, **extra}


PERSONNE = {
    "type": "record",
    "name": "Personne",
    "namespace": "t",
    "fields": [
        _field("nom", ["null", "string"], default=None, pii="identite"),
        _field("role", "string"),
    ],
}


def _schema(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Essai", "namespace": "t", "fields": list(fields)}


def test_free_text_that_is_also_personal_needs_both_permissions() -> None:
    schema = _schema(_field("note", ["null", "string"], default=None, pii="sensible", texte_libre=True))
    record = {"note": "suivi médical"}
    for categories, free_text in VIEWS:
        out, delivered = applied(compile_plan(schema, categories, free_text), record)
        shown = "sensible" in categories and free_text
        assert out == {"note": "suivi médical" if shown else None}
        assert delivered == (["note"] if shown else [])


def test_the_delivered_list_names_only_fields_with_a_value() -> None:
    schema = _schema(
        _field("id", "string"),
        _field("vide", ["null", "string"], default=None),
        _field("codes", {"type": "array", "items": "string"}, default=[]),
        _field("tags", {"type": "array", "items": "string"}, default=[]),
        _field("lieu", ["null", {"type": "record", "name": "Lieu", "fields": [_field("ville", "string")]}]),
        _field("absent", ["null", "t.Lieu"], default=None),
        _field("telephones", {"type": "array", "items": "string"}, default=[], pii="contact"),
    )
    record = {
        "id": "X",
        "vide": None,
        "codes": [],
        "tags": ["a"],
        "lieu": {"ville": "Tours"},
        "absent": None,
        "telephones": ["0611223344"],
    }
    out, delivered = applied(compile_plan(schema, frozenset(), False), record)
    assert out == {**record, "telephones": []}  # a withheld list becomes its default, empty
    assert sorted(delivered) == ["id", "lieu.ville", "tags"]


def test_a_nested_record_outside_the_view_is_withheld_whole() -> None:
    schema = _schema(_field("responsable", ["null", PERSONNE], default=None, pii="identite"))
    record = {"responsable": {"nom": "Martin", "role": "tuteur"}}
    assert applied(compile_plan(schema, frozenset(), False), record) == ({"responsable": None}, [])
    out, delivered = applied(compile_plan(schema, frozenset({"identite"}), False), record)
    assert out == record and sorted(delivered) == ["responsable.nom", "responsable.role"]


def test_an_array_of_records_without_personal_fields_is_delivered_whole(catalogue: Catalogue) -> None:
    schema = catalogue.latest("formation.OffreSession").schema
    full = full_record(schema)
    full["financeurs"] = [
        {"codeFinanceur": "2", "nbPlacesFinancees": 12},
        {"codeFinanceur": "3", "nbPlacesFinancees": None},
    ]
    out, delivered = applied(compile_plan(schema, frozenset(), False), full)
    assert out["financeurs"] == full["financeurs"] and "financeurs" in delivered


def _under_array_or_by_name(avro: Any, below: bool, defined: set[str]) -> Iterator[str]:
    """Personal or free-text fields below an array, or in a record that is also referred to by name."""
    if isinstance(avro, list):
        for branch in avro:
            yield from _under_array_or_by_name(branch, below, defined)
    elif isinstance(avro, str) and avro in defined:
        yield f"référence à {avro}"
    elif isinstance(avro, Mapping) and avro.get("type") == "array":
        yield from _under_array_or_by_name(avro["items"], True, defined)
    elif isinstance(avro, Mapping) and avro.get("type") == "record":
        sensitive = any(f.get("pii") or f.get("texte_libre") for f in avro["fields"])
        if sensitive:
            defined.update({avro["name"], f"{avro.get('namespace')}.{avro['name']}"})
        for field in avro["fields"]:
            if below and (field.get("pii") or field.get("texte_libre")):
                yield field["name"]
            yield from _under_array_or_by_name(field["type"], below, defined)


def test_no_contract_puts_personal_fields_where_the_views_cannot_reach_them(catalogue: Catalogue) -> None:
    # The oracle above (leaves) takes an array for one leaf: a contract with personal fields below one would
    # need it to descend too. The views themselves reach them (the small contracts below).
    for subject in catalogue:
        schema = catalogue.latest(subject).schema
        assert list(_under_array_or_by_name(schema, False, set())) == [], subject


def test_personal_fields_inside_an_array_of_records_are_withheld() -> None:
    schema = _schema(_field("contacts", {"type": "array", "items": PERSONNE}, default=[]))
    plan = compile_plan(schema, frozenset(), False)
    out, _ = applied(plan, {"contacts": [{"nom": "Martin", "role": "tuteur"}]})
    assert out == {"contacts": [{"nom": None, "role": "tuteur"}]}


def test_a_minimised_array_names_each_delivered_field_of_its_items_once() -> None:
    array = {"type": "array", "items": PERSONNE}
    schema = _schema(_field("contacts", ["null", array], default=None))
    record = {"contacts": [{"nom": "Martin", "role": "tuteur"}, {"nom": None, "role": "parent"}]}
    out, delivered = applied(compile_plan(schema, frozenset(), False), record)
    assert out == {"contacts": [{"nom": None, "role": "tuteur"}, {"nom": None, "role": "parent"}]}
    assert delivered == ["contacts[].role"]
    # Allowed whole, the array is delivered as it is and named once, like an array of plain values.
    out, delivered = applied(compile_plan(schema, frozenset({"identite"}), False), record)
    assert out == record and delivered == ["contacts"]
    empty: list[Any] | None
    for empty in (None, []):
        assert applied(compile_plan(schema, frozenset(), False), {"contacts": empty}) == ({"contacts": empty}, [])


def test_records_in_nested_arrays_are_minimised_too() -> None:
    schema = _schema(_field("equipes", {"type": "array", "items": {"type": "array", "items": PERSONNE}}, default=[]))
    record = {"equipes": [[{"nom": "Martin", "role": "tuteur"}], [], [{"nom": "Durand", "role": "parent"}]]}
    out, delivered = applied(compile_plan(schema, frozenset(), False), record)
    assert out == {"equipes": [[{"nom": None, "role": "tuteur"}], [], [{"nom": None, "role": "parent"}]]}
    assert delivered == ["equipes[][].role"]


def test_an_array_of_records_with_personal_fields_inside_withholds_something() -> None:
    schema = SchemaVersion("t.Essai", 1, _schema(_field("contacts", {"type": "array", "items": PERSONNE}, default=[])))
    views = ViewPlans(Catalogue({}))
    assert not views.withholds_nothing(schema, reception((), True))
    assert views.withholds_nothing(schema, reception(("identite",), False))


def test_a_record_referred_to_by_name_is_minimised_like_its_definition() -> None:
    schema = _schema(
        _field("responsable", ["null", PERSONNE], default=None, pii="contact"),
        _field("tuteur", ["null", "t.Personne"], default=None),
    )
    record = {"responsable": {"nom": "Martin", "role": "a"}, "tuteur": {"nom": "Durand", "role": "b"}}
    out, _ = applied(compile_plan(schema, frozenset(), False), record)
    assert out == {"responsable": None, "tuteur": {"nom": None, "role": "b"}}


def test_names_resolve_by_avro_namespaces_wherever_the_type_is_defined() -> None:
    # Personne is defined in namespace t inside an array under a withheld field, then referred to by its
    # short name from t and from an inner record in namespace u, by full name inside an array.
    inner = {
        "type": "record",
        "name": "Equipe",
        "namespace": "u",
        "fields": [_field("chef", ["null", "t.Personne"], default=None), _field("code", "string")],
    }
    schema = _schema(
        _field("anciens", {"type": "array", "items": PERSONNE}, default=[], pii="identite"),
        _field("tuteur", ["null", "Personne"], default=None),
        _field("membres", {"type": "array", "items": "t.Personne"}, default=[]),
        _field("equipe", inner),
    )
    record = {
        "anciens": [{"nom": "Martin", "role": "a"}],
        "tuteur": {"nom": "Durand", "role": "b"},
        "membres": [{"nom": "Petit", "role": "c"}],
        "equipe": {"chef": {"nom": "Leroy", "role": "d"}, "code": "E1"},
    }
    out, delivered = applied(compile_plan(schema, frozenset(), False), record)
    assert out == {
        "anciens": [],
        "tuteur": {"nom": None, "role": "b"},
        "membres": [{"nom": None, "role": "c"}],
        "equipe": {"chef": {"nom": None, "role": "d"}, "code": "E1"},
    }
    assert sorted(delivered) == ["equipe.chef.role", "equipe.code", "membres[].role", "tuteur.role"]


def test_a_recursive_record_is_minimised_at_every_depth() -> None:
    noeud = {
        "type": "record",
        "name": "Noeud",
        "fields": [
            _field("enfants", {"type": "array", "items": "Noeud"}, default=[]),
            _field("parent", ["null", "Noeud"], default=None),
            _field("nom", ["null", "string"], default=None, pii="identite"),
            _field("code", "string"),
        ],
    }
    schema = _schema(_field("racine", noeud))
    leaf: dict[str, Any] = {"enfants": [], "parent": None, "nom": "Durand", "code": "B"}
    record = {"racine": {"enfants": [leaf], "parent": {**leaf, "code": "P"}, "nom": "Martin", "code": "A"}}
    out, delivered = applied(compile_plan(schema, frozenset(), False), record)
    assert out == {
        "racine": {
            "enfants": [{**leaf, "nom": None}],
            "parent": {**leaf, "nom": None, "code": "P"},
            "nom": None,
            "code": "A",
        }
    }
    assert sorted(delivered) == ["racine.code", "racine.enfants[].code", "racine.parent.code"]
    views = ViewPlans(Catalogue({}))
    assert not views.withholds_nothing(SchemaVersion("t.Essai", 1, schema), reception((), False))
    assert views.withholds_nothing(SchemaVersion("t.Essai", 1, schema), reception(("identite",), False))


def test_an_unknown_type_name_fails_rather_than_letting_its_value_through() -> None:
    schema = _schema(_field("tuteur", ["null", "t.Inconnu"], default=None))
    with pytest.raises(ValueError, match=r"t\.Inconnu"):
        compile_plan(schema, frozenset(), False)


# ---- ViewPlans: withholds_nothing and the cache --------------------------------------------------------------


def _withholds_something(schema: Mapping[str, Any], categories: frozenset[str], free_text: bool) -> bool:
    return any(not visible(f, categories, free_text) for chain in leaves(schema) for f in chain)


def test_withholds_nothing_exactly_when_no_field_can_be_withheld(catalogue: Catalogue) -> None:
    views = ViewPlans(catalogue)
    answers: dict[bool, int] = {True: 0, False: 0}
    for subject in catalogue:
        schema = catalogue.latest(subject)
        for categories, free_text in VIEWS:
            nothing = views.withholds_nothing(schema, reception(categories, free_text))
            assert nothing == (not _withholds_something(schema.schema, categories, free_text)), (subject, categories)
            answers[nothing] += 1
    assert answers[True] and answers[False]


@pytest.mark.parametrize(
    ("subject", "categories", "free_text", "nothing"),
    [
        ("formation.OffreSession", (), False, True),  # no personal field, no free text
        ("formation.StatutCandidature", CATEGORIES, False, False),  # its comment is free text
        ("formation.StatutCandidature", (), True, True),
        ("formation.Positionnement", ("identite", "contact"), True, False),  # rqth is sensitive
        ("formation.Positionnement", CATEGORIES, False, False),
        ("formation.Positionnement", CATEGORIES, True, True),
    ],
)
def test_withholds_nothing_on_chosen_views(
    catalogue: Catalogue, subject: str, categories: tuple[str, ...], free_text: bool, nothing: bool
) -> None:
    views = ViewPlans(catalogue)
    assert views.withholds_nothing(catalogue.latest(subject), reception(categories, free_text)) is nothing


def test_the_shipped_profiles_have_both_kinds_of_view(catalogue: Catalogue, profiles: Profiles) -> None:
    views = ViewPlans(catalogue)
    assert views.withholds_nothing(
        catalogue.latest("formation.OffreSession"), profiles["imilo"].receives["formation.OffreSession"]
    )
    positionnement = catalogue.latest("formation.Positionnement")
    assert not views.withholds_nothing(positionnement, profiles["region-24"].receives["formation.Positionnement"])


def test_a_plan_is_compiled_once_per_contract_version_and_view(catalogue: Catalogue) -> None:
    views = ViewPlans(catalogue)
    schema = catalogue.latest("formation.Positionnement")
    first = views.plan(schema, reception(("identite", "contact"), False))
    assert views.plan(schema, reception(("contact", "identite"), False)) is first  # order of the view is irrelevant
    assert views.plan(schema, reception(("identite", "contact"), True)) is not first
    assert views.plan(schema, reception(("identite",), False)) is not first
    other = SchemaVersion(schema.subject, schema.version + 1, schema.schema)
    assert views.plan(other, reception(("identite", "contact"), False)) is not first


def test_view_plans_apply_reports_the_delivered_fields_sorted(catalogue: Catalogue) -> None:
    views = ViewPlans(catalogue)
    schema = catalogue.latest("aide.DemandeAide")
    full = full_record(schema.schema)
    minimised, delivered = views.apply(schema, full, reception(("identite",), False))
    plain, unsorted = applied(compile_plan(schema.schema, frozenset({"identite"}), False), full)
    assert minimised == plain
    assert delivered == sorted(unsorted) and delivered != unsorted  # the plan's order is the schema's, not sorted
    assert isinstance(views.plan(schema, reception(("identite",), False))["commentaire"], Withheld)
