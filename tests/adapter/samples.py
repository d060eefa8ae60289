"""Native items the adapter tests share: one Region status answer, changed field by field per test."""

from __future__ import annotations

STATUS = "formation.StatutCandidature"
PSEUDONYM = "b" * 64


def status_item(**changes: object) -> dict[str, object]:
    """A Region's valid answer to a positionnement, as its JSON item (without the ``evenement`` key)."""
    return {
        "id_positionnement": "P-1",
        "pseudonyme": PSEUDONYM,
        "id_session": "24:1",
        "code_structure": "37261S00",
        "statut": "ADMIS",
        "date_statut": "2026-03-05",
        **changes,
    }
