"""The open-data secrecy rule: no count under the threshold is published, directly or by difference.

The check here is the test's own: it rebuilds, from the published figures alone, every sum a reader knows
(each row's total is its part plus its complement, the national row is the sum of the regions), and asks by
exact integer elimination, independently of the rule's own algebra, which unknown cells those sums determine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from passerelle.core.contracts.formats import REGIONS
from passerelle.core.opendata import (
    NATIONAL,
    THRESHOLD,
    PublishedRow,
    Relation,
    RowFigures,
    Statistic,
    masked_cells,
    publish,
    recomputable,
)

# (total, part) pairs whose difference is a group of people a reader can compute.
SPLITS = (
    ("nb_positionnements", "nb_entrees"),
    ("nb_positionnements", "nb_liste_attente"),
    ("nb_signalements", "nb_signalements_contactes"),
)
RATES = {
    "taux_entree": ("nb_entrees", "nb_positionnements"),
    "part_liste_attente": ("nb_liste_attente", "nb_positionnements"),
    "taux_contact": ("nb_signalements_contactes", "nb_signalements"),
}
DELAYS = {
    "delai_positionnement_statut_median",
    "delai_positionnement_entree_median",
    "delai_positionnement_entree_p90",
    "delai_signalement_contact_median",
}
REGION_CODES = ("11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93")
ALL_REGIONS = tuple(sorted(REGIONS))


def _counts(figures: RowFigures) -> dict[str, int]:
    counts = {
        "nb_positionnements": figures.positionnements,
        "nb_entrees": figures.entrees,
        "nb_liste_attente": figures.liste_attente,
        "nb_signalements": figures.signalements,
        "nb_signalements_contactes": figures.contactes,
    }
    for total, part in SPLITS:
        counts[f"{total}-{part}"] = counts[total] - counts[part]
    return counts


def _national(regions: Mapping[str, RowFigures], delays: Mapping[str, Statistic]) -> RowFigures:
    return RowFigures(
        positionnements=sum(f.positionnements for f in regions.values()),
        entrees=sum(f.entrees for f in regions.values()),
        liste_attente=sum(f.liste_attente for f in regions.values()),
        signalements=sum(f.signalements for f in regions.values()),
        contactes=sum(f.contactes for f in regions.values()),
        delays=delays,
    )


@st.composite
def _row(draw: st.DrawFn) -> RowFigures:
    # Small numbers often: that is where secrecy bites.
    small_or_not = st.one_of(st.integers(0, 14), st.integers(0, 60))
    positionnements = draw(small_or_not)
    signalements = draw(small_or_not)
    delays = {name: Statistic(draw(st.floats(0, 90)), draw(st.integers(0, 30))) for name in sorted(DELAYS)}
    return RowFigures(
        positionnements=positionnements,
        entrees=draw(st.integers(0, positionnements)),
        liste_attente=draw(st.integers(0, positionnements)),
        signalements=signalements,
        contactes=draw(st.integers(0, signalements)),
        delays=delays,
    )


TABLES = st.dictionaries(st.sampled_from(REGION_CODES), _row(), min_size=1, max_size=7)


def _rank(matrix: Sequence[Sequence[int]]) -> int:
    """Exact rank by fraction-free (Bareiss) elimination over the integers."""
    rows = [list(r) for r in matrix if any(r)]
    rank, previous = 0, 1
    width = len(rows[0]) if rows else 0
    for column in range(width):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][column]), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(rank + 1, len(rows)):
            rows[i] = [
                (rows[i][j] * rows[rank][column] - rows[rank][j] * rows[i][column]) // previous for j in range(width)
            ]
        previous = rows[rank][column]
        rank += 1
    return rank


def _leaks(
    regions: Mapping[str, RowFigures], rows: Sequence[PublishedRow], threshold: int
) -> list[tuple[str, str, int]]:
    """The small counts a reader recomputes from ``rows``: each (row, count, value)."""
    truth = {r: _counts(f) for r, f in regions.items()}
    if any(row.region == NATIONAL for row in rows):
        truth[NATIONAL] = {name: sum(t[name] for t in truth.values()) for name in next(iter(truth.values()))}
    shown = {
        (row.region, name): value for row in rows for name, value in row.values.items() if name in truth[row.region]
    }
    known = {k: int(v) for k, v in shown.items() if v is not None}
    sums: list[tuple[tuple[str, str], list[tuple[str, str]]]] = []
    for row in truth:
        for total, part in SPLITS:
            sums.append(((row, total), [(row, part), (row, f"{total}-{part}")]))
    if NATIONAL in truth:
        sums += [((NATIONAL, name), [(r, name) for r in regions]) for name in truth[NATIONAL]]
    unknown = sorted({(r, n) for r in truth for n in truth[r]} - set(known))
    if not unknown:
        return []
    matrix = [
        [(1 if cell == whole else 0) - sum(1 for p in parts if p == cell) for cell in unknown] for whole, parts in sums
    ]
    full = _rank(matrix)
    leaks = []
    for i, (row, name) in enumerate(unknown):
        value = truth[row][name]
        if 0 < value < threshold and _rank([[x for j, x in enumerate(line) if j != i] for line in matrix]) < full:
            leaks.append((row, name, value))  # removing the cell's column lowers the rank: the sums pin it down
    for whole, parts in sums:  # the masked parts of a published total, together: a small group too
        if whole in known and not all(p in known for p in parts):
            rest = known[whole] - sum(known[p] for p in parts if p in known)
            if 0 < rest < threshold:
                leaks.append((*whole, rest))
    return leaks


def _published_rule_holds(regions: Mapping[str, RowFigures], rows: Sequence[PublishedRow], threshold: int) -> None:
    figures = {**regions}
    for row in rows:
        values = row.values
        for name, value in values.items():
            if name in DELAYS:
                stat = (figures[row.region].delays if row.region in figures else {}).get(name)
                if value is not None and stat is not None:
                    assert stat.observations >= threshold, (row.region, name, stat)
            elif name in RATES:
                numerator, denominator = RATES[name]
                if value is not None:
                    assert values[numerator] is not None and values[denominator] is not None, (row.region, name)
            elif value is not None:
                assert value == 0 or value >= threshold, (row.region, name, value)  # directly
        for name in row.masked:
            assert values[name] is None
    assert _leaks(regions, rows, threshold) == []  # nor by difference


@settings(max_examples=200, deadline=None)
@given(TABLES, st.sampled_from([THRESHOLD, 5, 3]))
@example({"24": RowFigures(40, 35, 20, 0, 0), "53": RowFigures(12, 5, 0, 0, 0)}, THRESHOLD)
def test_no_small_count_is_published_directly_or_by_difference(regions: dict[str, RowFigures], threshold: int) -> None:
    national = _national(regions, {})
    rows = publish(regions, national, threshold)
    assert [r.region for r in rows] == [*sorted(regions), NATIONAL]
    _published_rule_holds(regions, rows, threshold)


@settings(max_examples=8, deadline=None)
@given(st.fixed_dictionaries({code: _row() for code in ALL_REGIONS}))
def test_all_eighteen_regions_at_once(regions: dict[str, RowFigures]) -> None:
    """The size of a real export: fewer examples, the test's own check being the slow part."""
    rows = publish(regions, _national(regions, {}))
    _published_rule_holds(regions, rows, THRESHOLD)


@settings(max_examples=60, deadline=None)
@given(TABLES)
def test_without_the_national_row_the_rule_holds_too(regions: dict[str, RowFigures]) -> None:
    rows = publish(regions, None)
    assert NATIONAL not in [r.region for r in rows]
    _published_rule_holds(regions, rows, THRESHOLD)


def test_the_check_catches_primary_suppression_alone() -> None:
    """The test's own check is not blind: masking only the small cells leaves them recomputable."""
    regions = {"24": RowFigures(40, 30, 12, 20, 15), "53": RowFigures(25, 4, 12, 20, 15)}
    national = _national(regions, {})
    naive = []
    for region, figures in [*regions.items(), (NATIONAL, national)]:
        counts = _counts(figures)
        values: dict[str, Any] = {n: (None if 0 < counts[n] < THRESHOLD else counts[n]) for n in counts if "-" not in n}
        naive.append(PublishedRow(region, values, ()))
    assert ("53", "nb_entrees", 4) in _leaks(regions, naive, THRESHOLD)


def test_large_counts_are_all_published() -> None:
    regions = {"24": RowFigures(60, 30, 15, 40, 20), "53": RowFigures(50, 25, 20, 33, 12)}
    delays = {"delai_positionnement_entree_median": Statistic(35.0, 55)}
    rows = publish(regions, _national(regions, delays))
    assert all(not r.masked for r in rows)
    national = rows[-1].values
    assert (national["nb_positionnements"], national["nb_entrees"], national["taux_entree"]) == (110, 55, 0.5)
    assert national["delai_positionnement_entree_median"] == 35.0
    assert rows[0].values["delai_positionnement_entree_median"] is None  # no observation: not computable, not secret


def test_a_small_region_takes_a_second_cell_with_it() -> None:
    regions = {"24": RowFigures(40, 20, 15, 0, 0), "53": RowFigures(30, 15, 15, 0, 0), "84": RowFigures(5, 0, 0, 0, 0)}
    rows = {r.region: r for r in publish(regions, _national(regions, {}))}
    assert rows["84"].values["nb_positionnements"] is None  # 5 young people: primary secrecy
    assert rows["53"].values["nb_positionnements"] is None  # else 84's = France − 24 − 53
    assert rows["24"].values["nb_positionnements"] == 40
    assert rows[NATIONAL].values["nb_positionnements"] == 75
    assert "nb_positionnements" in rows["53"].masked and "taux_entree" in rows["53"].masked


def test_a_complement_below_the_threshold_masks_the_part() -> None:
    """95 entries out of 100 positionnements: the 5 without an entry must not be readable by subtraction."""
    rows = publish({"24": RowFigures(100, 95, 50, 0, 0)}, None)
    assert rows[0].values["nb_positionnements"] == 100
    assert rows[0].values["nb_entrees"] is None and rows[0].values["taux_entree"] is None


def test_a_delay_over_few_young_people_is_masked_and_says_so() -> None:
    delays = {
        "delai_signalement_contact_median": Statistic(7.0, 3),
        "delai_positionnement_statut_median": Statistic(6.5, 11),
    }
    [row] = publish({"24": RowFigures(30, 15, 15, 30, 15, delays)}, None)
    assert row.values["delai_signalement_contact_median"] is None
    assert "delai_signalement_contact_median" in row.masked
    assert row.values["delai_positionnement_statut_median"] == 6.5


def test_the_engine_widens_a_chain_of_sums() -> None:
    """A 2 × 2 table with margins: one small cell takes three more with it, as a rectangle."""
    values = {("a", "x"): 3, ("a", "y"): 20, ("b", "x"): 30, ("b", "y"): 40}
    values |= {("a", "t"): 23, ("b", "t"): 70, ("t", "x"): 33, ("t", "y"): 60, ("t", "t"): 93}
    sums = [
        Relation(("a", "t"), (("a", "x"), ("a", "y"))),
        Relation(("b", "t"), (("b", "x"), ("b", "y"))),
        Relation(("t", "x"), (("a", "x"), ("b", "x"))),
        Relation(("t", "y"), (("a", "y"), ("b", "y"))),
        Relation(("t", "t"), (("a", "t"), ("b", "t"))),
    ]
    hidden = masked_cells(values, sums, set(values))
    assert hidden == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}  # the margins stay published
    assert ("a", "x") not in recomputable(set(hidden), sums)
    assert recomputable({("a", "x")}, sums) == {("a", "x")}
