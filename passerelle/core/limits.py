"""How much one inbound message may hold, in one place, checked by every dialect before the work it bounds.

A limit crossed refuses the message (size, number of items) or the item (field length, nesting depth) with a
French error that names the limit, never an internal error or a service slowed to a crawl.
"""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.problems import Problem


@dataclass(frozen=True, slots=True)
class Limits:
    # A message (one JSON document, one CSV file, one LHEO document), in bytes.
    message_bytes: int = 8 * 1024 * 1024
    # One field: a JSON string or key, a CSV cell, an XML text or attribute, in characters.
    field_chars: int = 64 * 1024
    # Nesting of JSON objects and arrays, or of XML elements, from the document's root.
    depth: int = 32
    # Items of one message: JSON array elements, CSV rows, LHEO sessions.
    items: int = 50_000

    def message_too_large(self, size: int) -> Problem | None:
        if size <= self.message_bytes:
            return None
        return Problem(
            "limite",
            f"message trop volumineux : {_bytes(size)} reçus, {_bytes(self.message_bytes)} au plus "
            "(limite de taille d'un message ; découpez-le, par exemple avec passerelle ingest)",
            "$",
            "limite_taille_message",
            f"≤ {_bytes(self.message_bytes)}",
        )

    def too_many_items(self, count: int, what: str) -> Problem | None:
        if count <= self.items:
            return None
        return Problem(
            "limite",
            f"trop d'éléments dans le message : {_number(count)} {what}, {_number(self.items)} au plus "
            "(limite du nombre d'éléments par message ; découpez-le)",
            "$",
            "limite_nombre_elements",
            f"≤ {_number(self.items)} {what}",
        )

    def field_too_long(self, length: int, path: str) -> Problem:
        return Problem(
            "limite",
            f"champ trop long : {_number(length)} caractères, {_number(self.field_chars)} au plus "
            "(limite de taille d'un champ)",
            path,
            "limite_taille_champ",
            f"≤ {_number(self.field_chars)} caractères",
        )

    def too_deep(self, path: str) -> Problem:
        return Problem(
            "limite",
            f"imbrication trop profonde : plus de {self.depth} niveaux (limite de profondeur)",
            path,
            "limite_profondeur",
            f"≤ {self.depth} niveaux",
        )


LIMITS = Limits()


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def _bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} Mio".replace(".", ",")
    return f"{size / 1024:.1f} Kio".replace(".", ",")
