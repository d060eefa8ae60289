"""Statistical secrecy for the open-data indicators: which figures of a region × month table may be published.

Pure (no I/O). The rule, documented with its source in docs/open-data.md:

- **Primary secrecy.** No count of 1 to ``THRESHOLD - 1`` people is published (0 is: it describes nobody).
  Counts the table never shows but that a reader gets by subtraction (positionnements without an entry, not
  on a waiting list, signalements not contacted) are held to the same rule.
- **Secondary secrecy.** Counts add up: each region's positionnements are its entries plus its non-entries,
  the national row is the sum of the regions. More cells are masked until no small count can be recomputed
  from the published ones by any combination of these sums (checked by exact linear algebra), and until the
  masked cells of any sum whose total is published add up to 0 or to at least ``THRESHOLD`` people.
- **Rates** are published only when their numerator and denominator both are; **medians and deciles of
  delays** only when computed over at least ``THRESHOLD`` observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from fractions import Fraction

# CASD's output-checking rule for people counts (no cell under 11 units), as applied to SNDS and PMSI data.
THRESHOLD = 11
NATIONAL = "FR"

# A cell of the table: (row, column); a row is a region's INSEE code or NATIONAL.
Key = tuple[str, str]

# The counts published, and those a reader gets by subtracting two published ones.
POSITIONNEMENTS = "nb_positionnements"
ENTREES = "nb_entrees"
LISTE_ATTENTE = "nb_liste_attente"
SIGNALEMENTS = "nb_signalements"
CONTACTES = "nb_signalements_contactes"
COUNTS = (POSITIONNEMENTS, ENTREES, LISTE_ATTENTE, SIGNALEMENTS, CONTACTES)
_SANS_ENTREE = "sans_entree"
_HORS_LISTE = "hors_liste_attente"
_NON_CONTACTES = "non_contactes"
# total = part + complement, in every row.
_SPLITS = (
    (POSITIONNEMENTS, ENTREES, _SANS_ENTREE),
    (POSITIONNEMENTS, LISTE_ATTENTE, _HORS_LISTE),
    (SIGNALEMENTS, CONTACTES, _NON_CONTACTES),
)

# Rates: (column, numerator, denominator).
RATES = (
    ("taux_entree", ENTREES, POSITIONNEMENTS),
    ("part_liste_attente", LISTE_ATTENTE, POSITIONNEMENTS),
    ("taux_contact", CONTACTES, SIGNALEMENTS),
)
DELAYS = (
    "delai_positionnement_statut_median",
    "delai_positionnement_entree_median",
    "delai_positionnement_entree_p90",
    "delai_signalement_contact_median",
)
COLUMNS = (*COUNTS, *(rate for rate, _, _ in RATES), *DELAYS)


@dataclass(frozen=True)
class Statistic:
    """A median or decile of delays, with the number of observations it was computed over."""

    value: float | None
    observations: int


@dataclass(frozen=True)
class RowFigures:
    """One region's month (or all regions' together), before any secrecy."""

    positionnements: int
    entrees: int
    liste_attente: int
    signalements: int
    contactes: int
    delays: Mapping[str, Statistic] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        figures = {
            POSITIONNEMENTS: self.positionnements,
            ENTREES: self.entrees,
            LISTE_ATTENTE: self.liste_attente,
            SIGNALEMENTS: self.signalements,
            CONTACTES: self.contactes,
        }
        for total, part, complement in _SPLITS:
            figures[complement] = figures[total] - figures[part]
        if any(v < 0 for v in figures.values()):
            raise ValueError("effectifs incohérents : une partie dépasse son total")
        return figures


@dataclass(frozen=True)
class PublishedRow:
    """One row of the export: every column's value (``None``: masked or not computable) and the masked ones."""

    region: str
    values: Mapping[str, float | int | None]
    masked: tuple[str, ...]


@dataclass(frozen=True)
class Relation:
    """``total`` is the sum of ``parts``: what a reader may subtract."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (*self.parts, self.total)


def publish(
    regions: Mapping[str, RowFigures], national: RowFigures | None, threshold: int = THRESHOLD
) -> list[PublishedRow]:
    """The rows to publish, one per region then the national one, every secret cell masked."""
    if threshold < 1:
        raise ValueError("le seuil du secret statistique est d'au moins 1")
    rows: dict[str, RowFigures] = dict(sorted(regions.items()))
    if NATIONAL in rows:
        raise ValueError(f"{NATIONAL} désigne la ligne nationale, pas une région")
    if national is not None:
        rows[NATIONAL] = national
    values = {(row, name): n for row, figures in rows.items() for name, n in figures.counts().items()}
    if national is not None:
        for name in (*COUNTS, *(complement for _, _, complement in _SPLITS)):
            if values[(NATIONAL, name)] != sum(values[(r, name)] for r in regions):
                raise ValueError(f"la ligne nationale n'est pas la somme des régions ({name})")
    published = {(row, name) for row in rows for name in COUNTS}
    hidden = masked_cells(values, relations(list(regions), national is not None), published, threshold)
    return [_row(row, figures, values, hidden, threshold) for row, figures in rows.items()]


def relations(regions: Sequence[str], with_national: bool) -> list[Relation]:
    """Every sum a reader knows holds between the cells of the table."""
    rows = [*regions, NATIONAL] if with_national else list(regions)
    out = [
        Relation((row, total), ((row, part), (row, complement))) for row in rows for total, part, complement in _SPLITS
    ]
    if with_national:
        names = (*COUNTS, *(complement for _, _, complement in _SPLITS))
        out += [Relation((NATIONAL, name), tuple((r, name) for r in regions)) for name in names]
    return out


def masked_cells(
    values: Mapping[Key, int], sums: Sequence[Relation], published: Set[Key], threshold: int = THRESHOLD
) -> frozenset[Key]:
    """The published cells to mask so that no count under ``threshold`` can be read or recomputed.

    Cells outside ``published`` are unknown to a reader from the start. Each round masks one more cell, so the
    loop ends: at worst with every cell masked, when nothing can be recomputed.
    """
    hidden = {k for k in values if k not in published or 0 < values[k] < threshold}
    while (cell := _next_mask(values, sums, hidden, threshold)) is not None:
        hidden.add(cell)
    return frozenset(hidden & set(published))


def recomputable(hidden: Set[Key], sums: Iterable[Relation]) -> frozenset[Key]:
    """The hidden cells whose value the published cells and the sums determine exactly.

    A cell is determined when its unit vector lies in the row space of the sums restricted to the hidden cells:
    in reduced row echelon form, when its pivot row holds no other cell.
    """
    pivots: dict[Key, dict[Key, Fraction]] = {}
    for relation in sums:
        row: dict[Key, Fraction] = {}
        for key, sign in ((relation.total, 1), *((part, -1) for part in relation.parts)):
            if key in hidden:
                row[key] = row.get(key, Fraction(0)) + sign
        for pivot, pivot_row in pivots.items():
            factor = row.get(pivot)
            if factor:
                _subtract(row, pivot_row, factor)
        row = {k: v for k, v in row.items() if v}
        if not row:
            continue
        pivot = min(row)
        scale = row[pivot]
        row = {k: v / scale for k, v in row.items()}
        for other in pivots.values():
            factor = other.get(pivot)
            if factor:
                _subtract(other, row, factor)
        pivots[pivot] = row
    return frozenset(k for k, row in pivots.items() if len(row) == 1)


def _subtract(row: dict[Key, Fraction], pivot_row: Mapping[Key, Fraction], factor: Fraction) -> None:
    for key, value in pivot_row.items():
        left = row.get(key, Fraction(0)) - factor * value
        if left:
            row[key] = left
        else:
            row.pop(key, None)


def _next_mask(values: Mapping[Key, int], sums: Sequence[Relation], hidden: set[Key], threshold: int) -> Key | None:
    """The next cell to mask, while a small count can still be read through a sum; the cheap checks first."""
    small = {k for k in hidden if 0 < values[k] < threshold}
    for relation in sums:
        masked = [k for k in relation.members if k in hidden]
        if not masked or len(masked) == len(relation.members):
            continue
        alone = len(masked) == 1 and masked[0] in small  # a single masked cell is the total minus the others
        grouped = relation.total not in hidden and 0 < sum(values[k] for k in masked) < threshold
        if alone or grouped:
            return _cheapest([k for k in relation.members if k not in hidden], values, relation)
    exposed = recomputable(hidden, sums) & small
    return _covering(min(exposed), values, sums, hidden) if exposed else None


def _cheapest(cells: Iterable[Key], values: Mapping[Key, int], relation: Relation | None = None) -> Key:
    # A part rather than a total, a non-zero one, the smallest: masking it costs the least information.
    totals = {relation.total} if relation else set()
    return min(cells, key=lambda k: (k in totals, values[k] == 0, values[k], k))


def _covering(cell: Key, values: Mapping[Key, int], sums: Sequence[Relation], hidden: set[Key]) -> Key:
    """A published cell whose masking leaves ``cell`` unrecomputable, searched outwards from it through the sums
    (nearest and cheapest first); failing that, the cheapest published cell next to it, to try again."""
    totals = {r.total for r in sums}
    reached, frontier = {cell}, {cell}
    first: list[Key] = []
    while frontier:
        touching = [r for r in sums if any(k in frontier for k in r.members)]
        layer = {k for r in touching for k in r.members if k not in hidden}
        ordered = sorted(layer, key=lambda k: (k in totals, values[k] == 0, values[k], k))
        first = first or ordered
        for candidate in ordered:
            if cell not in recomputable(hidden | {candidate}, sums):
                return candidate
        frontier = {k for r in touching for k in r.members if k in hidden and k not in reached}
        reached |= frontier
    # A cell linked to no published one cannot be recomputed: ``first`` is never empty here.
    return first[0]


def _row(
    row: str, figures: RowFigures, values: Mapping[Key, int], hidden: frozenset[Key], threshold: int
) -> PublishedRow:
    out: dict[str, float | int | None] = {}
    masked: list[str] = []
    for name in COUNTS:
        out[name] = None if (row, name) in hidden else values[(row, name)]
        if (row, name) in hidden:
            masked.append(name)
    for name, numerator, denominator in RATES:
        if (row, numerator) in hidden or (row, denominator) in hidden:
            out[name] = None
            masked.append(name)
        else:
            below = values[(row, denominator)]
            out[name] = values[(row, numerator)] / below if below else None
    for name in DELAYS:
        stat = figures.delays.get(name, Statistic(None, 0))
        if 0 < stat.observations < threshold:
            out[name] = None
            masked.append(name)
        else:
            out[name] = stat.value if stat.observations else None
    return PublishedRow(row, out, tuple(masked))
