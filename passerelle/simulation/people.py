"""Fictitious young people followed by Missions Locales, drawn from a seed.

Names are common French first and last names, combined at random: any
resemblance to a real person is chance. No NIR is ever generated.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

FIRST_NAMES_F = (
    "Emma",
    "Léa",
    "Chloé",
    "Manon",
    "Camille",
    "Inès",
    "Sarah",
    "Jade",
    "Louise",
    "Lina",
    "Zoé",
    "Clara",
    "Maëlys",
    "Lola",
    "Anaïs",
    "Océane",
    "Yasmine",
    "Laura",
    "Célia",
    "Nour",
    "Mélissa",
    "Justine",
    "Morgane",
)
FIRST_NAMES_M = (
    "Lucas",
    "Hugo",
    "Enzo",
    "Nathan",
    "Louis",
    "Théo",
    "Mathis",
    "Yanis",
    "Adam",
    "Rayan",
    "Noah",
    "Tom",
    "Kylian",
    "Maxime",
    "Quentin",
    "Mehdi",
    "Kevin",
    "Dylan",
    "Bastien",
    "Alexis",
    "Killian",
    "Sofiane",
    "Jules",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Le Gall",
    "Le Goff",
    "Kerboriou",
    "Tanguy",
    "Benali",
    "Haddad",
    "Nguyen",
    "Da Silva",
    "Pereira",
    "Diallo",
    "Traoré",
)
ROME_CODES = (
    "F1604",
    "F1702",
    "H2913",
    "G1602",
    "G1603",
    "D1106",
    "D1507",
    "J1501",
    "K1302",
    "K2204",
    "N1103",
    "N4101",
    "I1604",
    "H2909",
    "A1414",
    "M1607",
    "M1203",
    "J1301",
    "G1803",
    "D1212",
)


@dataclass(frozen=True)
class YoungPerson:
    id_dossier: str
    sexe: str
    prenom: str
    nom: str
    date_naissance: dt.date
    courriel: str
    telephone: str
    code_postal: str
    commune: str
    code_structure: str
    region: str
    ine: str | None
    niveau: int


def _ine(rng: random.Random) -> str:
    return f"{rng.randrange(10**9):09d}{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}"


def _ascii(text: str) -> str:
    table = str.maketrans("éèëêàâäîïôöûüçÉÈ ", "eeeeaaaiioouucEE-")
    return text.translate(table).lower()


def young_person(
    rng: random.Random, index: int, structure: str, region: str, commune: str, code_postal: str, today: dt.date
) -> YoungPerson:
    sexe = rng.choice("FM")
    prenom = rng.choice(FIRST_NAMES_F if sexe == "F" else FIRST_NAMES_M)
    nom = rng.choice(LAST_NAMES)
    age_days = rng.randrange(16 * 365, 26 * 365)
    return YoungPerson(
        id_dossier=f"{structure}-{index:07d}",
        sexe=sexe,
        prenom=prenom,
        nom=nom,
        date_naissance=today - dt.timedelta(days=age_days),
        courriel=f"{_ascii(prenom)}.{_ascii(nom)}{rng.randrange(100)}@exemple.fr",
        telephone=f"06{rng.randrange(10**8):08d}",
        code_postal=code_postal,
        commune=commune,
        code_structure=structure,
        region=region,
        ine=_ine(rng) if rng.random() < 0.7 else None,
        niveau=rng.choice((3, 3, 3, 4, 4, 5, 2)),
    )
