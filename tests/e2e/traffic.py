"""Native messages as partners send them, for the end-to-end tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from passerelle.core.privacy import Pseudonymiser
from passerelle.simulation import native as simulated

PSEUDO = Pseudonymiser(b"secret-de-test")


def positionnement(n: str, session: str = "24:114782", commentaire: str | None = None, **extra: Any) -> bytes:
    fields: dict[str, Any] = {
        "idDossier": f"D-{n}",
        "idPositionnement": f"P-{n}",
        "jeune": {
            "nomNaissance": "Martin",
            "prenom": "Léa",
            "dateNaissance": dt.date(2005, 1, 2),
            "sexe": "F",
            "courriel": "lea.martin@exemple.fr",
            "telephone": "0612345678",
            "codeInseeCommune": "37261",
            "rqth": True,
        },
        "codeStructure": "37261S00",
        "idSession": session,
        "codeRomeVise": "F1604",
        "datePositionnement": dt.date(2026, 3, 1),
        "dispositif": "CEJ",
        "conseiller": "Conseillère A",
        "commentaire": commentaire,
        **extra,
    }
    return simulated.imilo_message("formation.Positionnement", fields)


def pseudonym_of(n: str) -> str:
    return PSEUDO("imilo", f"D-{n}")
