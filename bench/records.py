"""Realistic canonical records for the benchmarks, built from a seed (no personal data of real people)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from passerelle.core.privacy import Pseudonymiser
from passerelle.simulation import native as simulated

_PSEUDO = Pseudonymiser(b"bench")


def positionnement(rng: random.Random, i: int) -> dict[str, Any]:
    day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(300))
    return {
        "idPositionnement": f"P-{i:08d}",
        "jeune": {
            "pseudonyme": _PSEUDO("imilo", str(i)),
            "nomNaissance": "Martin",
            "nomUsage": None,
            "prenom": "Léa",
            "dateNaissance": dt.date(2005, 3, 14),
            "sexe": "F",
            "ine": None,
            "courriel": "lea.martin@exemple.fr",
            "telephone": "0612345678",
            "codePostal": "37000",
            "codeInseeCommune": "37261",
            "niveauQualification": 3,
            "rqth": None,
        },
        "codeStructure": "37261S00",
        "nomStructure": "Mission Locale de Touraine",
        "idSession": f"24:{rng.randrange(10**6)}",
        "regionDestinataire": "24",
        "codeRomeVise": "F1604",
        "datePositionnement": day,
        "dispositif": "CEJ",
        "conseiller": "Conseillère 12",
        "courrielConseiller": "conseil@exemple.fr",
        "commentaire": None,
    }


def native_positionnement(rng: random.Random, i: int) -> bytes:
    """An I-MILO JSON Positionnement, as the Mission Locale side publishes it on ``in.imilo``."""

    record = positionnement(rng, i)
    fields = {k: v for k, v in record.items() if k not in ("regionDestinataire", "nomStructure")}
    fields["jeune"] = {k: v for k, v in record["jeune"].items() if k != "pseudonyme"}
    fields["idDossier"] = f"D-{i:08d}"
    return simulated.imilo_message("formation.Positionnement", fields)


def native_statut(rng: random.Random, i: int) -> bytes:
    """A Region JSON StatutCandidature answering the positionnement ``i``, as region-24 publishes it."""

    return simulated.region_json_message(
        "formation.StatutCandidature",
        {
            "id_positionnement": f"P-{i:08d}",
            "pseudonyme": _PSEUDO("imilo", f"D-{i:08d}"),
            "id_session": f"24:{rng.randrange(10**6)}",
            "code_structure": "37261S00",
            "statut": rng.choice(["RECUE", "INFORMATION_COLLECTIVE", "ADMIS"]),
            "date_statut": "2026-03-12",
        },
    )
