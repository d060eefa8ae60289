"""Files larger than a Kafka message, cut into self-contained pieces for ``in.<partner>``.

LHEO feeds are cut between ``formation`` elements by ``lheo_stream.split_lheo``;
CSV exports are cut between rows, each piece repeating the header line and
saying on which line of the file it starts, so a DLQ entry still names the
line of the original file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO


def split_csv(
    source: BinaryIO, max_bytes: int = 512_000, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield (line number of the piece's first data row, piece) with the header line repeated in each piece.

    A quoted field may hold a newline: a row ends only where the quotes balance.
    """
    header = source.readline()
    if progress:
        progress(len(header))
    if not header:
        return
    piece: list[bytes] = []
    size = 0
    piece_start = next_line = 2
    pending = b""
    for raw in source:
        if progress:
            progress(len(raw))
        pending += raw
        if pending.count(b'"') % 2:  # inside a quoted field: the row goes on
            continue
        row, pending = pending, b""
        if piece and size + len(row) > max_bytes:
            yield piece_start, header + b"".join(piece)
            piece, size = [], 0
        if not piece:
            piece_start = next_line
        piece.append(row)
        size += len(row)
        next_line += max(1, row.count(b"\n"))
    if pending:
        if not piece:
            piece_start = next_line
        piece.append(pending)
    if piece:
        yield piece_start, header + b"".join(piece)
