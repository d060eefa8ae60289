"""Region CSV: legacy batch exports, one event type per file, a header line, dates ``jj/mm/aaaa``.

Columns are the contract's fields in snake_case, nested records flattened
with their name as prefix (``jeune_nom_naissance``), lists joined with ``|``.
One bad row is rejected with its line number; the other rows go through.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from passerelle.core.dialect import InboundContext, OutboundContext, Outcome, Rejected, Rendered
from passerelle.core.guard import text_problem
from passerelle.core.limits import Limits
from passerelle.core.privacy import shown_name, shown_value
from passerelle.core.problems import Problem
from passerelle.core.shapes import Shape, columns, snake, write_scalar
from services.region_adapter.dialects.common import REGION_IN, REGION_PERSON_ID, translate

CONTENT_TYPE = "text/csv"


def parse(payload: bytes, context: InboundContext) -> Iterator[Outcome]:
    subject = context.event_type
    if subject not in REGION_IN:
        yield Rejected.one(
            "type_inconnu",
            f"indiquez l'événement du fichier dans l'en-tête ce_type (attendus : {', '.join(REGION_IN)})",
            "ce_type",
            received=shown_value(subject) if subject else None,
        )
        return
    limits = context.limits
    too_large = limits.message_too_large(len(payload))
    if too_large is not None:
        yield Rejected((too_large,), None, subject)
        return
    # Bytes the declared encoding cannot read are kept aside (surrogate escapes) and refuse their own row only.
    text = payload.decode(context.encoding, "surrogateescape")
    separator = context.extras.get("separateur", ";")
    lines = io.StringIO(text, newline="").readlines()  # \r\n, \r or \n, as the csv module reads them
    too_many = limits.too_many_items(len(lines) - 1, "lignes")
    if too_many is not None:
        yield Rejected((too_many,), None, subject)
        return
    header = _header(lines[0] if lines else "", separator)
    if isinstance(header, Problem):
        yield Rejected((header,), "ligne 1", subject)
        return
    misread = _misread(header, [f"colonne {i}" for i in range(1, len(header) + 1)], context.encoding)
    if misread is not None:
        yield Rejected((misread,), "ligne 1", subject)
        return
    header = [h.strip().lstrip("\ufeff") for h in header]
    # First: a NIR or a control character as a column name must not come back in the list of unknown columns.
    screened = _screened(header, [f"colonne {i}" for i in range(1, len(header) + 1)], limits, in_name=True)
    twice = sorted({h for h in header if header.count(h) > 1})
    if not screened and twice:
        names = ", ".join(f"« {shown_name(h)} »" for h in twice)
        message = f"colonne(s) en double dans l'en-tête : {names} (une seule colonne par champ)"
        screened = (Problem("colonne_en_double", message, "ligne 1", "colonne_en_double"),)
    if screened:
        yield Rejected(screened, "ligne 1", subject)
        return
    shape: Shape = context.shapes[subject]
    known = {name: path for name, path, _ in columns(shape.root)}
    if subject == "reperage.SignalementDecrochage":
        known[f"jeune_{REGION_PERSON_ID}"] = ("jeune", REGION_PERSON_ID)
    unknown = [h for h in header if h not in known]
    if unknown:
        yield Rejected((_unknown_columns(header, unknown, known),), "ligne 1", subject)
        return
    rows = 0
    for line, row in _records(lines, separator, len(header)):
        rows += 1
        position = f"ligne {line}"
        if isinstance(row, Problem):
            yield Rejected((row,), position, subject)
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Rejected.one(
                "csv", f"{len(row)} colonne(s) au lieu de {len(header)}", position, position=position, subject=subject
            )
            continue
        misread = _misread(row, header, context.encoding)
        if misread is not None:
            yield Rejected((misread,), position, subject)
            continue
        screened = _screened(row, header, limits)
        if screened:
            yield Rejected(screened, position, subject)
            continue
        yield translate(_nest(header, row, known), subject, context, position, textual=True, path="")
    if not rows:
        yield Rejected.one("vide", "fichier sans aucune ligne de données après l'en-tête", "ligne 2", subject=subject)


def _screened(cells: Sequence[str], names: Sequence[str], limits: Limits, in_name: bool = False) -> tuple[Problem, ...]:
    """Every cell's rule breaks (NIR, control characters, length), by column; a NIR alone when there is one."""
    problems = [p for cell, name in zip(cells, names, strict=False) if (p := text_problem(cell, name, limits, in_name))]
    nir = [p for p in problems if p.code == "nir"]
    return tuple(nir[:1] or problems)


_UNREADABLE_BYTES = re.compile("[\udc80-\udcff]")
_WINDOWS_1252 = re.compile("[\x80-\x9f]")


def _misread(cells: Sequence[str], names: Sequence[str], encoding: str) -> Problem | None:
    """The first cell whose text shows the file is not in the encoding its profile declares: bytes that
    encoding cannot read, UTF-8 read as latin-1 (``é`` seen as ``Ã©``), or Windows-1252 read as latin-1 (its
    ``’``, ``€`` and ``œ`` become invisible C1 control characters). Never delivered as mojibake."""
    latin = encoding.lower().replace("_", "-") in ("latin-1", "latin1", "iso-8859-1")
    for name, cell in zip(names, cells, strict=False):
        if cell.isascii():
            continue
        if _UNREADABLE_BYTES.search(cell):
            return Problem(
                "encodage",
                f"octets illisibles en {encoding} : le fichier n'est pas dans l'encodage déclaré par le profil",
                name,
                "encodage",
                encoding,
            )
        if not latin:
            continue
        try:
            utf8 = cell.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            utf8 = None
        if utf8 is not None:
            return Problem(
                "encodage",
                "texte en UTF-8 dans un fichier déclaré latin-1 (« é » y serait lu « Ã© ») : exportez en latin-1, "
                "ou faites déclarer utf-8 dans le profil",
                name,
                "encodage",
                encoding,
            )
        if _WINDOWS_1252.search(cell):
            return Problem(
                "encodage",
                "caractère Windows-1252 (’, €, œ…) dans un fichier déclaré latin-1, où il devient un caractère "
                "de contrôle invisible : exportez en latin-1 ou en UTF-8 déclaré",
                name,
                "encodage",
                encoding,
            )
    return None


def _unknown_columns(header: Sequence[str], unknown: Sequence[str], known: Mapping[str, object]) -> Problem:
    """Unknown columns named when they are a few typos among column names; a first line that is mostly not
    column names is a data row (the header line is missing) and none of its cells is quoted."""
    expected = ", ".join(known)
    if all(shown_name(h) == h for h in unknown) and len(unknown) * 2 <= len(header):
        message = f"colonne(s) inconnue(s) : {', '.join(unknown)}"
        return Problem("champ_inconnu", message, "ligne 1", "champ_inconnu", expected)
    message = (
        f"la ligne 1 n'est pas une ligne d'en-tête : {len(unknown)} de ses {len(header)} cellules ne sont pas des "
        "noms de colonne (la ligne d'en-tête, avec les noms des colonnes, est attendue en premier)"
    )
    return Problem("champ_inconnu", message, "ligne 1", "en_tete_absent", expected)


def _header(line: str, separator: str) -> list[str] | Problem:
    if not line.strip():
        return Problem("csv", "fichier vide : une ligne d'en-tête est attendue", "ligne 1", "csv")
    try:
        return next(csv.reader([line], delimiter=separator, strict=True))
    except csv.Error as exc:
        return _unreadable(exc, 0)


def _records(lines: list[str], separator: str, width: int) -> Iterator[tuple[int, list[str] | Problem]]:
    """Each record after the header, with the number of its first line (the header is line 1).

    A record the csv module cannot read (a cell over its size limit, a quote never closed, text after a closing
    quote), and a quote left open that swallows the lines after it into one cell (the record then spans several
    lines that look like rows of their own, or lacks the header's columns), are refused alone: reading starts
    again on the line after the one the record began on, so the rows that follow still go through. A quoted cell
    that rightly holds line breaks is read as one record.
    """
    start = 1  # index in ``lines`` where the current reader began
    while start < len(lines):
        reader = csv.reader(map(lines.__getitem__, range(start, len(lines))), delimiter=separator, strict=True)
        read = 0  # lines this reader had consumed before the record it is on
        try:
            for row in reader:
                first = start + read
                span = reader.line_num - read
                read = reader.line_num
                if span > 1 and _swallowed(lines[first + 1 : first + span], row, separator, width):
                    yield first + 1, _open_quote(width)
                    start = first + 1
                    break
                yield first + 1, row
            else:
                return
        except csv.Error as exc:
            yield start + read + 1, _unreadable(exc, width)
            start += read + 1


def _swallowed(continued: list[str], row: list[str], separator: str, width: int) -> bool:
    """Whether the lines a quoted cell ran over were rows of their own."""
    return len(row) != width or any(line.count(separator) >= width - 1 for line in continued)


def _open_quote(width: int) -> Problem:
    return Problem(
        "csv",
        f"guillemet non fermé : la cellule qu'il ouvre court sur les lignes suivantes, qui ont pourtant les "
        f'{width} colonnes d\'une ligne à part (fermez-le, ou doublez un guillemet qui fait partie du texte : "")',
        "$",
        "guillemet",
    )


def _unreadable(exc: csv.Error, width: int) -> Problem:
    reason = str(exc)
    if "field larger than field limit" in reason:
        limit = f"{csv.field_size_limit():,}".replace(",", " ")
        return Problem("limite", f"cellule trop longue : plus de {limit} caractères", "$", "limite_taille_champ")
    if "unexpected end of data" in reason:
        return Problem(
            "csv",
            "guillemet non fermé : la cellule qu'il ouvre court jusqu'à la fin du fichier "
            '(fermez-le, ou doublez un guillemet qui fait partie du texte : "")',
            "$",
            "guillemet",
        )
    if "expected after" in reason:
        return Problem(
            "csv",
            "texte après un guillemet fermant : une cellule entre guillemets se termine par un séparateur ou une "
            'fin de ligne (doublez un guillemet qui fait partie du texte : "")',
            "$",
            "guillemet",
        )
    return Problem("csv", f"ligne illisible au format CSV ({width} colonnes attendues)", "$", "csv")


def _nest(header: Sequence[str], row: Sequence[str], known: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Flat columns back into the snake_case nesting the JSON dialect uses."""
    out: dict[str, Any] = {}
    for name, cell in zip(header, row, strict=True):
        path = known[name]
        target = out
        for part in path[:-1]:
            target = target.setdefault(snake(part), {})
        target[snake(path[-1])] = cell
    return out


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection). A text cell that does gets
# a leading apostrophe, which spreadsheets take as "this is text" and do not show; numbers and dates never need it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(subject: str, record: dict[str, Any], context: OutboundContext) -> Rendered:
    cols = list(columns(context.shape.root))
    encoding = context.encoding
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=context.separator, lineterminator="\r\n")
    writer.writerow(["evenement", *(name for name, _, _ in cols)])
    writer.writerow([subject, *(_inert(record, path) for _, path, _ in cols)])
    return Rendered(out.getvalue().encode(encoding, "replace"), f"{CONTENT_TYPE}; charset={encoding}")


def _inert(record: dict[str, Any], path: tuple[str, ...]) -> str:
    text = cell(record, path)
    value = _value(record, path)
    written = isinstance(value, str) or (isinstance(value, list) and any(isinstance(v, str) for v in value))
    return f"'{text}" if written and text.startswith(_FORMULA_START) else text


def _value(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def cell(record: dict[str, Any], path: tuple[str, ...]) -> str:
    value = _value(record, path)
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(write_scalar(v, french_dates=True)) for v in value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(write_scalar(value, french_dates=True))
