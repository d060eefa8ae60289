"""Plausible LHEO feeds of any size, written to a stream without holding them in memory.

With real Carif-Oref feeds as templates, their ``formation`` elements are
cloned and varied (numbers, dates, codes); without them, a built-in template
in the same shape is used, so the demo and the benchmarks run anywhere.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from lxml import etree

NS_22 = "http://www.lheo.org/2.2"
NS_23 = "http://lheo.gouv.fr/2.3"
TITLES = (
    "Titre professionnel plaquiste",
    "CAP Maçon",
    "BTS Services informatiques aux organisations",
    "Titre professionnel agent de restauration",
    "CAP Accompagnant éducatif petite enfance",
    "Titre professionnel soudeur",
    "Certificat de compétences en cuisine",
    "Préparation opérationnelle à l'emploi",
)
FORMACODES = ("22403", "22402", "22454", "31054", "42752", "44054", "23684", "15054")
ROMES = ("F1604", "F1703", "M1805", "G1602", "K1303", "H2913", "G1603", "K2204")

_TEMPLATE = """<formation xmlns="{ns}" numero="F0">
<domaine-formation><code-FORMACODE ref="V12">22403</code-FORMACODE><code-NSF>233</code-NSF>
<code-ROME>F1604</code-ROME></domaine-formation>
<intitule-formation>Titre professionnel plaquiste</intitule-formation>
<objectif-formation>Obtenir la qualification visée et accéder à l'emploi.</objectif-formation>
<resultats-attendus>Certification</resultats-attendus>
<contenu-formation>Modules techniques et stage en entreprise.</contenu-formation>
<certifiante>1</certifiante>
<contact-formation><coordonnees><nom>Accueil</nom></coordonnees></contact-formation>
<parcours-de-formation>1</parcours-de-formation><code-niveau-entree>1</code-niveau-entree>
<certification><code-RNCP>320</code-RNCP></certification>
<action numero="A0"><rythme-formation>Temps plein</rythme-formation><code-public-vise ref="V12">83056</code-public-vise>
<niveau-entree-obligatoire>0</niveau-entree-obligatoire><modalites-alternance>-</modalites-alternance>
<modalites-enseignement>0</modalites-enseignement><conditions-specifiques>-</conditions-specifiques>
<prise-en-charge-frais-possible>0</prise-en-charge-frais-possible>
<lieu-de-formation><coordonnees><nom>Centre de formation</nom><adresse><ligne>1 rue de la Gare</ligne>
<codepostal>37000</codepostal><ville>Tours</ville><departement>37</departement>
<code-INSEE-commune>37261</code-INSEE-commune><region>24</region></adresse></coordonnees></lieu-de-formation>
<modalites-entrees-sorties>0</modalites-entrees-sorties>
<session numero="S0"><periode><debut>20260907</debut><fin>20270630</fin></periode>
<adresse-inscription><adresse><ligne>1 rue de la Gare</ligne><codepostal>37000</codepostal><ville>Tours</ville>
<departement>37</departement><code-INSEE-commune>37261</code-INSEE-commune><region>24</region></adresse>
</adresse-inscription><etat-recrutement>1</etat-recrutement></session>
<organisme-financeur><code-financeur>2</code-financeur><nb-places-financees>12</nb-places-financees>
</organisme-financeur></action>
<organisme-formation-responsable><numero-activite>24370000037</numero-activite>
<SIRET-organisme-formation><SIRET>82422814200660</SIRET></SIRET-organisme-formation>
<nom-organisme>Organisme de formation exemple</nom-organisme>
<raison-sociale>Organisme de formation exemple</raison-sociale>
<coordonnees-organisme><coordonnees><nom>Organisme de formation exemple</nom></coordonnees></coordonnees-organisme>
<contact-organisme><coordonnees><nom>Accueil</nom></coordonnees></contact-organisme>
</organisme-formation-responsable>
</formation>"""


def _templates(paths: Sequence[Path], namespace: str) -> list[etree._Element]:
    """``formation`` elements to clone, moved into ``namespace`` (real feeds are LHEO 2.2)."""
    found: list[etree._Element] = []
    for path in paths:
        tree = etree.parse(str(path))
        for element in tree.iter():
            if isinstance(element.tag, str) and etree.QName(element).localname == "formation":
                source = etree.QName(element).namespace or ""
                text = etree.tostring(element)
                found.append(etree.fromstring(text.replace(source.encode(), namespace.encode()) if source else text))
    if not found:
        found = [etree.fromstring(_TEMPLATE.format(ns=namespace))]
    return found


def _vary(template: etree._Element, n: int, rng: random.Random) -> bytes:
    formation = etree.fromstring(etree.tostring(template))
    formation.set("numero", f"GEN{n:08d}")
    # Over two years, so that sessions still lie ahead at the end of a scenario played in the first one.
    year = rng.choice((2026, 2027))
    for element in formation.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name == "action":
            element.set("numero", f"GENA{n:08d}-{rng.randrange(100)}")
        elif name == "session":
            element.set("numero", f"GENS{n:08d}-{rng.randrange(10_000)}")
        elif name == "debut":
            element.text = rng.choice(
                (
                    "00000000",
                    f"{year}{rng.randrange(1, 13):02d}00",
                    f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}",
                )
            )
        elif name == "fin":
            element.text = rng.choice(("99999999", f"{year + 1}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"))
        elif name == "intitule-formation":
            element.text = rng.choice(TITLES)
        elif name == "code-FORMACODE":
            element.text = rng.choice(FORMACODES)
        elif name == "code-ROME":
            element.text = rng.choice(ROMES)
    return etree.tostring(formation, encoding="utf-8")


def write_feed(
    out: BinaryIO, target_bytes: int, seed: int, templates: Sequence[Path] = (), namespace: str = NS_22
) -> int:
    """Write a feed of about ``target_bytes``; return the number of sessions written."""
    rng = random.Random(seed)
    sources = _templates(templates, namespace)
    out.write(f'<?xml version="1.0" encoding="utf-8"?>\n<lheo xmlns="{namespace}"><offres>'.encode())
    written = 0
    sessions = 0
    n = 0
    while written < target_bytes:
        template = sources[n % len(sources)]
        piece = _vary(template, n, rng)
        sessions += piece.count(b"<session ")
        out.write(piece)
        written += len(piece)
        n += 1
    out.write(b"</offres></lheo>")
    return sessions
