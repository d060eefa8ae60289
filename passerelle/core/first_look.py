"""The first look at raw UTF-8, in C only: one ``bytes.translate`` maps each byte to a class, and the NIR guard,
the forbidden-character guard and the nesting bound each read that one string with ``in`` and ``count``.

Python's regular expressions scan some 10 ns a character, too slow for every message; bytes methods are fast, and
one pass serves every guard where each pass of its own cost as much as the others together.
"""

from __future__ import annotations

from collections.abc import Iterable

# C0 controls but tab, LF and CR, and DEL: the control bytes no field may hold.
CONTROL_BYTES = (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)


def byte_classes(other: bytes, members: dict[bytes, Iterable[int]]) -> bytes:
    """A ``bytes.translate`` table: each byte of ``members[cls]`` becomes ``cls``, any other byte ``other``."""
    table = bytearray(other * 256)
    for cls, bytes_of_class in members.items():
        for byte in bytes_of_class:
            table[byte] = ord(cls)
    return bytes(table)


# Digits 0, Corsica's A and B a, separators s, a backslash (an escape) \, an exponent's letter e, control bytes c,
# an object's or array's opening {. The lead byte of a non-ASCII character is n, but C3's: U+00C0 to U+00FF (é, ç,
# ×) are their own NFKC form beside any ASCII or other such character, and none is a digit, a space or a control,
# so text without n needs no NFKC and holds no C1 or bidirectional control (their lead bytes are C2 and E2).
CLASSES = byte_classes(
    b"|",
    {
        b"0": b"0123456789",
        b"a": b"AB",
        b"s": [*b" .-", *range(0x80, 0xC0), 0xC3],
        b"n": [*range(0xC0, 0xC3), *range(0xC4, 0x100)],
        b"\\": b"\\",
        b"e": b"eE",
        b"c": CONTROL_BYTES,
        b"{": b"{[",
    },
)


def classes_of(data: bytes) -> bytes:
    return data.translate(CLASSES)
