"""The demo's storyline, drawn from a seed: who is positioned where, and how each Region answers.

Pure: it turns a seed and the reference data into native messages (in each
partner's own dialect) and into the answers a Region or a Mission Locale
would give to what it receives. The orchestration lives in ``passerelle.stack.demo``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from passerelle.core.reference import ReferenceData
from passerelle.core.shapes import Shape, snake
from passerelle.simulation import native as simulated
from passerelle.simulation.people import ROME_CODES, YoungPerson, young_person

START = dt.date(2026, 1, 5)
NIR_SAMPLE = "2 84 05 37 261 084 46"  # a well-formed NIR: must be refused by Passerelle


@dataclass(frozen=True)
class Native:
    """One message as a partner publishes it on ``in.<partner>``."""

    partner: str
    event: str
    payload: bytes
    key: bytes | None
    content_type: str
    bad: bool = False


@dataclass
class Scenario:
    seed: int
    reference: ReferenceData
    shapes: Mapping[str, Shape]
    dialects: Mapping[str, Mapping[str, str]]  # partner → event → dialect value
    csv_encodings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # ------------------------------------------------------------------ Mission Locale side

    def people(self, count: int, regions: Sequence[str]) -> list[YoungPerson]:
        structures = [s for r in regions for s in self.reference.structures_in_region(r)]
        out = []
        for i in range(count):
            structure = self.rng.choice(structures)
            commune = self.rng.choice(structure.communes)
            postcode = f"{structure.departement.zfill(2)}{self.rng.randrange(0, 1000):03d}"[:5]
            out.append(young_person(self.rng, i, structure.code, structure.region, commune, postcode, START))
        return out

    def positionnement(self, person: YoungPerson, session: str, bad: str | None = None) -> Native:
        day = START + dt.timedelta(days=self.rng.randrange(0, 240))
        fields: dict[str, Any] = {
            "idDossier": person.id_dossier,
            "idPositionnement": f"POS-{person.id_dossier}",
            "jeune": {
                "nomNaissance": person.nom,
                "prenom": person.prenom,
                "dateNaissance": person.date_naissance,
                "sexe": person.sexe,
                "ine": person.ine,
                "courriel": person.courriel,
                "telephone": person.telephone,
                "codePostal": person.code_postal,
                "codeInseeCommune": person.commune,
                "niveauQualification": person.niveau,
            },
            "codeStructure": person.code_structure,
            "idSession": session,
            "regionDestinataire": session.split(":")[0],
            "codeRomeVise": self.rng.choice(ROME_CODES),
            "datePositionnement": day,
            "dispositif": self.rng.choice(("CEJ", "CEJ", "PACEA", "DROIT_COMMUN")),
            "conseiller": f"Conseiller·e {self.rng.randrange(1, 40)}",
            "commentaire": self.rng.choice((None, "Projet validé en entretien.", "Mobilité à travailler.")),
        }
        if bad == "nir":
            fields["commentaire"] = f"Sécurité sociale : {NIR_SAMPLE}"
        elif bad == "rome":
            fields["codeRomeVise"] = "ZZ999"
        payload = simulated.imilo_message("formation.Positionnement", fields)
        if bad == "json":
            payload = payload[: len(payload) // 2]
        return Native("imilo", "formation.Positionnement", payload, _key(person), "application/json", bad is not None)

    def demande_aide(self, person: YoungPerson) -> Native:
        kind = self.rng.choice(("MOBILITE", "PERMIS_DE_CONDUIRE", "LOGEMENT", "SANTE", "EQUIPEMENT"))
        fields = {
            "idDossier": person.id_dossier,
            "idDemande": f"AIDE-{person.id_dossier}",
            "jeune": {"nomNaissance": person.nom, "prenom": person.prenom, "sexe": person.sexe},
            "codeStructure": person.code_structure,
            "region": person.region,
            "typeAide": kind,
            "montantDemandeCentimes": self.rng.randrange(50, 1500) * 100,
            "dateDemande": START + dt.timedelta(days=self.rng.randrange(0, 240)),
        }
        payload = simulated.imilo_message("aide.DemandeAide", fields)
        return Native("imilo", "aide.DemandeAide", payload, _key(person), "application/json")

    def suite_signalement(self, delivered: Mapping[str, Any]) -> Native:
        """What a Mission Locale answers to a dropout it was told about."""
        signalled = dt.date.fromisoformat(delivered["dateSignalement"])
        suite = self.rng.choices(("CONTACTE", "PRIS_EN_CHARGE", "INJOIGNABLE", "DEJA_ACCOMPAGNE"), (5, 3, 2, 1))[0]
        item = {
            "typeEvenement": "reperage.SuiteSignalement",
            "idSignalement": delivered["idSignalement"],
            "pseudonyme": delivered["jeune"]["pseudonyme"],
            "structureRattachement": {"codeStructure": delivered["codeStructure"]},
            "region": delivered["region"],
            "suite": suite,
            "dateSuite": (signalled + dt.timedelta(days=self.rng.randrange(1, 25))).isoformat(),
        }
        key = delivered["jeune"]["pseudonyme"].encode()
        return Native("imilo", "reperage.SuiteSignalement", orjson.dumps(item), key, "application/json")

    # ------------------------------------------------------------------ Region side

    def signalements(self, partner: str, count: int) -> list[dict[str, Any]]:
        region = partner.removeprefix("region-")
        structures = self.reference.structures_in_region(region)
        rows = []
        for i in range(count):
            structure = self.rng.choice(structures)
            person = young_person(
                self.rng,
                900_000 + i,
                structure.code,
                region,
                self.rng.choice(structure.communes),
                f"{structure.departement.zfill(2)}000",
                START,
            )
            rows.append(
                {
                    "idSignalement": f"SIG-{region}-{self.seed}-{i:05d}",
                    "jeune": {
                        "nomNaissance": person.nom,
                        "prenom": person.prenom,
                        "dateNaissance": person.date_naissance,
                        "sexe": person.sexe,
                        "ine": person.ine,
                        "telephone": person.telephone,
                        "codeInseeCommune": person.commune,
                        "id_jeune": f"R{region}-{i:06d}",
                    },
                    "region": region,
                    "dateSignalement": START + dt.timedelta(days=self.rng.randrange(0, 240)),
                    "source": self.rng.choice(("SIEI", "RIO", "PSAD", "APPRENTISSAGE")),
                    "situation": self.rng.choice(("DECROCHAGE", "ABANDON", "RUPTURE_CONTRAT")),
                }
            )
        return rows

    def orientation(self, partner: str, count: int) -> list[dict[str, Any]]:
        region = partner.removeprefix("region-")
        kinds = ("JOURNEE_DECOUVERTE", "IMMERSION", "FORUM", "SALON", "VISITE_ENTREPRISE", "ATELIER")
        return [
            {
                "idEvenement": f"EVT-{region}-{self.seed}-{i}",
                "region": region,
                "typeEvenement": self.rng.choice(kinds),
                "titre": self.rng.choice(("Forum des métiers", "Journée portes ouvertes BTP", "Atelier CV")),
                "dateDebut": START + dt.timedelta(days=self.rng.randrange(0, 240)),
                "codesRome": [self.rng.choice(ROME_CODES)],
                "placesDisponibles": self.rng.randrange(10, 200),
            }
            for i in range(count)
        ]

    def answers_to_positionnement(self, delivered: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The Region's path for one application: statut(s), then entry and exit for those admitted."""

        def get(name: str) -> Any:
            return delivered[snake(name)]

        pseudo = delivered["jeune"]["pseudonyme"]
        base = {
            "idPositionnement": get("idPositionnement"),
            "pseudonyme": pseudo,
            "idSession": get("idSession"),
            "codeStructure": get("codeStructure"),
        }
        day = _parse_day(get("datePositionnement"))
        out: list[dict[str, Any]] = []

        def status(statut: str, after: int, **more: Any) -> dt.date:
            nonlocal day
            day = day + dt.timedelta(days=after)
            out.append({"_event": "formation.StatutCandidature", **base, "statut": statut, "dateStatut": day, **more})
            return day

        rng = self.rng
        if rng.random() < 0.02:  # a few applications never get an answer: waits Passerelle notices
            return out
        status("RECUE", rng.randrange(1, 6))
        if rng.random() < 0.3:
            status("INFORMATION_COLLECTIVE", rng.randrange(3, 12))
        roll = rng.random()
        admitted = roll < 0.55
        if 0.55 <= roll < 0.75:
            status(
                "REFUSE",
                rng.randrange(3, 15),
                motifRefus=rng.choice(("PREREQUIS_NON_ATTEINTS", "SESSION_COMPLETE", "PROJET_NON_VALIDE")),
            )
        elif roll >= 0.75:
            status("LISTE_ATTENTE", rng.randrange(3, 15), rangListeAttente=rng.randrange(1, 20))
            admitted = rng.random() < 0.5
        if admitted:
            status("ADMIS", rng.randrange(3, 20))
            if rng.random() < 0.04:  # admitted, then no entry comes
                return out
            entry = day + dt.timedelta(days=rng.randrange(5, 45))
            out.append(
                {
                    "_event": "formation.EntreeFormation",
                    **base,
                    "dateEntree": entry,
                    "dateFinPrevue": entry + dt.timedelta(days=180),
                }
            )
            dropout = rng.random() < 0.15
            out.append(
                {
                    "_event": "formation.SortieFormation",
                    **base,
                    "dateSortie": entry + dt.timedelta(days=rng.randrange(20, 80) if dropout else 180),
                    "motifSortie": "ABANDON" if dropout else rng.choice(("FIN_DE_FORMATION", "ACCES_EMPLOI")),
                    "certification": "SANS_OBJET" if dropout else rng.choice(("OBTENUE", "OBTENUE", "PARTIELLE")),
                }
            )
        return out

    def decision_aide(self, delivered: Mapping[str, Any]) -> dict[str, Any]:
        asked = int(delivered.get("montant_demande_centimes") or 10_000)  # a CSV cell is text
        decision = self.rng.choices(("ACCORDEE", "ACCORDEE_PARTIELLEMENT", "REFUSEE"), (6, 2, 2))[0]
        return {
            "_event": "aide.DecisionAide",
            "idDemande": delivered["id_demande"],
            "pseudonyme": delivered["jeune"]["pseudonyme"],
            "codeStructure": delivered["code_structure"],
            "region": delivered["region"],
            "decision": decision,
            "montantAccordeCentimes": asked
            if decision == "ACCORDEE"
            else asked // 2
            if decision != "REFUSEE"
            else None,
            "dateDecision": _parse_day(delivered["date_demande"]) + dt.timedelta(days=self.rng.randrange(3, 30)),
        }

    def region_messages(self, partner: str, records: Sequence[dict[str, Any]], bad_rows: int = 0) -> Iterator[Native]:
        """Records (canonical names) in the Region's dialect: one JSON message each, or one CSV file per event."""
        by_event: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_event.setdefault(record["_event"], []).append({k: v for k, v in record.items() if k != "_event"})
        for event, rows in by_event.items():
            dialect = self.dialects[partner][event]
            if dialect == "region-csv":
                encoding = self.csv_encodings.get(partner, "utf-8")
                payload = simulated.region_csv_file(event, rows, self.shapes[event], encoding)
                if bad_rows:
                    payload = _spoil_rows(payload, bad_rows, encoding, self.rng)
                yield Native(partner, event, payload, None, "text/csv", bad_rows > 0)
            else:
                for row in rows:
                    key = _row_key(row)
                    payload = simulated.region_json_message(event, _to_snake(row))
                    yield Native(partner, event, payload, key, "application/json")


def _spoil_rows(payload: bytes, count: int, encoding: str, rng: random.Random) -> bytes:
    lines = payload.decode(encoding).split("\r\n")
    for _ in range(count):
        if len(lines) > 2:
            i = rng.randrange(1, len(lines) - 1)
            cells = lines[i].split(";")
            cells[-1] = "32/13/2026" if "/" in cells[-1] else "VALEUR_INCONNUE"
            lines[i] = ";".join(cells)
    return "\r\n".join(lines).encode(encoding)


def _key(person: YoungPerson) -> bytes:
    return person.id_dossier.encode()


def _row_key(row: Mapping[str, Any]) -> bytes | None:
    pseudo = row.get("pseudonyme") or (row.get("jeune") or {}).get("id_jeune")
    return str(pseudo).encode() if pseudo else None


def _to_snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {(k if k == "id_jeune" else snake(k)): _to_snake(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_snake(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _parse_day(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if "/" in text:
        d, m, y = text.split("/")
        return dt.date(int(y), int(m), int(d))
    return dt.date.fromisoformat(text)
