"""Formats of the French code lists and identifiers the contracts carry.

A schema field names its format with the ``"format"`` attribute; the typed
layer checks it and reports the expected form in plain French.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}


@dataclass(frozen=True)
class Format:
    name: str
    pattern: re.Pattern[str]
    expected: str

    def matches(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None


def _f(name: str, regex: str, expected: str) -> Format:
    return Format(name, re.compile(regex), expected)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        _f("rome", r"[A-N][0-9]{4}", "code ROME : une lettre de A à N puis 4 chiffres (ex. F1604)"),
        _f("formacode", r"[0-9]{5}", "code FORMACODE : 5 chiffres (ex. 22403)"),
        _f("nsf", r"[0-9]{3}[a-zA-Z]?", "code NSF : 3 chiffres, éventuellement suivis d'une lettre (ex. 233)"),
        _f("rncp", r"RNCP[0-9]{1,6}", "code RNCP : « RNCP » suivi de chiffres (ex. RNCP37274)"),
        _f("rs", r"RS[0-9]{1,6}", "code RS : « RS » suivi de chiffres (ex. RS5063)"),
        _f("commune_insee", r"[0-9][0-9AB][0-9]{3}", "code INSEE de commune : 5 caractères (ex. 37266, 2A004)"),
        _f("code_postal", r"[0-9]{5}", "code postal : 5 chiffres (ex. 37250)"),
        _f(
            "departement",
            r"0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6]",
            "département : 01 à 95, 2A, 2B ou 971 à 976",
        ),
        _f("region", "|".join(REGIONS), "code INSEE de région : " + ", ".join(REGIONS)),
        _f("siret", r"[0-9]{14}", "SIRET : 14 chiffres"),
        _f("uai", r"[0-9]{7}[A-Za-z]", "code UAI : 7 chiffres et une lettre (ex. 0370001A)"),
        _f(
            "ine",
            r"[0-9]{9}[A-Za-z]{2}|[0-9]{10}[A-Za-z]|[0-9]{4}A[0-9]{5}[A-Za-z]",
            "INE : 11 caractères, forme RNIE (9 chiffres + 2 lettres), BEA (10 chiffres + 1 lettre) "
            "ou apprentissage (4 chiffres, A, 5 chiffres, 1 lettre)",
        ),
        _f(
            "structure_ml",
            r"[0-9][0-9AB][0-9]{3}S[0-9]{2}",
            "code de structure Mission Locale : code INSEE de commune, « S », 2 chiffres (ex. 65440S00)",
        ),
        _f("pseudonyme", r"[0-9a-f]{64}", "pseudonyme : 64 caractères hexadécimaux minuscules (HMAC-SHA256)"),
        _f("mois", r"[0-9]{4}-(0[1-9]|1[0-2])", "mois : AAAA-MM (ex. 2026-03)"),
    )
}

NIVEAUX_2019 = range(1, 9)
