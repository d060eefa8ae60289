"""LHEO feeds read as a stream of ``formation`` elements, and cut into small self-contained LHEO documents.

A Carif-Oref feed can weigh hundreds of megabytes: lxml's ``iterparse`` reads it one ``formation`` at a time and
each is freed once the caller is done with it, so memory stays flat whatever the size. The region adapter
translates the formations; the gateway and ``passerelle ingest`` cut a feed into pieces for ``in.<partner>``
(as ``pieces.split_csv`` does for CSV exports).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from lxml import etree

# 2.3 moved to lheo.gouv.fr; the lheo.org form is accepted too, as some producers still write it.
NAMESPACES = {
    "http://www.lheo.org/2.2": "2.2",
    "http://lheo.gouv.fr/2.3": "2.3",
    "http://www.lheo.org/2.3": "2.3",
    "": "2.2",
}
FORMATION_TAGS = [f"{{{ns}}}formation" if ns else "formation" for ns in NAMESPACES]


class _Counting(io.RawIOBase):
    """Reports how many bytes lxml has read, for a progress bar."""

    def __init__(self, source: BinaryIO, progress: Callable[[int], None]) -> None:
        self._source = source
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self._progress(len(data))
        return len(data)


class Feed:
    """The ``formation`` elements of a feed, streamed, each freed once the caller is done with it, and the
    document's root element, which says whether it is LHEO at all."""

    def __init__(self, source: BinaryIO) -> None:
        # No entity is expanded and nothing fetched from the network; libxml2 keeps its own limits on depth
        # (256 levels) and text size (10 MB), which a feed of any length stays within.
        self._events = etree.iterparse(
            source,
            events=("end",),
            tag=FORMATION_TAGS,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        self.root: etree._Element | None = None

    def __iter__(self) -> Iterator[etree._Element]:
        for _event, element in self._events:
            if self.root is None:
                self.root = element.getroottree().getroot()
                refuse_entities(element.getroottree())
            yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
        if self.root is None:
            self.root = self._events.root


class EntitiesDeclared(SyntaxError):
    """A document that declares XML entities: an LHEO feed has no use for them, and they are how XXE and billion
    laughs attacks begin. Refused whole, whatever the entities say, before any formation is translated."""

    def __init__(self) -> None:
        super().__init__(_ENTITIES_REFUSED)
        self.msg, self.lineno = _ENTITIES_REFUSED, 1


_ENTITIES_REFUSED = "entités XML déclarées (<!DOCTYPE … [<!ENTITY …>]>) : refusées, un flux LHEO n'en a pas besoin"


def refuse_entities(tree: etree._ElementTree) -> None:
    dtd = tree.docinfo.internalDTD
    if dtd is not None and dtd.entities():  # type: ignore[attr-defined]  # lxml-stubs omit DTD.entities
        raise EntitiesDeclared


def formations(source: BinaryIO) -> Iterator[etree._Element]:
    return iter(Feed(source))


def split_lheo(
    source: BinaryIO, max_bytes: int = 512_000, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """Cut a feed into small self-contained LHEO documents of whole formations, streaming."""
    stream: BinaryIO = _Counting(source, progress) if progress else source  # type: ignore[assignment]
    pieces: list[bytes] = []
    size = 0
    ns = ""
    for formation in formations(stream):
        ns = etree.QName(formation).namespace or ""
        text = etree.tostring(formation, encoding="utf-8")
        if pieces and size + len(text) > max_bytes:
            yield _document(ns, pieces)
            pieces, size = [], 0
        pieces.append(text)
        size += len(text)
    if pieces:
        yield _document(ns, pieces)


def _document(ns: str, parts: list[bytes]) -> bytes:
    root = f'<lheo xmlns="{ns}">' if ns else "<lheo>"
    return b"".join(
        [b'<?xml version="1.0" encoding="utf-8"?>\n', root.encode(), b"<offres>", *parts, b"</offres></lheo>"]
    )
