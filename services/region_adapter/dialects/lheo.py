"""LHEO 2.2 and 2.3 training-offer feeds: one ``formation.OffreSession`` per ``session``, streamed.

A Carif-Oref feed can weigh hundreds of megabytes: it is read with lxml's
``iterparse`` one ``formation`` at a time and each formation is freed once
translated, so memory stays flat whatever the size. LHEO's own conventions
are kept: dates ``AAAAMMJJ``, ``00000000`` for an unknown start, ``99999999``
for an unknown end, ``AAAAMM00`` for a month only.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from lxml import etree

from passerelle.core.contracts.formats import FORMATS
from passerelle.core.dialect import Draft, InboundContext, Outcome, Rejected
from passerelle.core.guard import may_hold_forbidden, text_problem
from passerelle.core.lheo_stream import NAMESPACES, EntitiesDeclared, Feed
from passerelle.core.limits import LIMITS, Limits
from passerelle.core.privacy import normalised_utf8, shown_name, shown_value, utf8_holds_nir
from passerelle.core.problems import Problem

SUBJECT = "formation.OffreSession"
_ETAT = {"1": "OUVERT", "2": "FERME", "3": "SUSPENDU"}
_ENTREES = {"0": "DATES_FIXES", "1": "PERMANENTES"}
_ENSEIGNEMENT = {"0": "PRESENTIEL", "1": "MIXTE", "2": "DISTANCE"}
_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{8}")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{1,20})?")
_INT_MAX = 2**31 - 1
_INT_DIGITS = len(str(_INT_MAX))


class _Bad(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


_EXPECTED_NAMESPACES = ", ".join(ns for ns in NAMESPACES if ns) + " (ou sans espace de noms)"
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)


def _not_lheo(root: etree._Element | None, head: bytes) -> Rejected | None:
    """A document whose root is not ``lheo`` in a known namespace: said plainly, never dropped in silence."""
    if root is None:
        return None
    name = etree.QName(root)
    if name.localname == "lheo" and (name.namespace or "") in NAMESPACES:
        return None
    html = name.localname.lower() == "html" or _HTML.search(head) is not None
    found = "une page HTML" if html else f"un document de racine <{shown_name(name.localname)}>"
    namespace = " dans un espace de noms inconnu" if name.namespace and not html else ""
    return Rejected.one(
        "pas_lheo",
        f"document reçu : {found}{namespace}, pas un flux LHEO : racine <lheo> attendue, dans l'un des "
        f"espaces de noms {_EXPECTED_NAMESPACES}",
        shown_name(name.localname),
        subject=SUBJECT,
        rule="lheo",
        expected=f"<lheo> : {_EXPECTED_NAMESPACES}",
        received=shown_value(name.namespace) if name.namespace else None,
    )


def parse_lheo(source: bytes | BinaryIO, context: InboundContext) -> Iterator[Outcome]:
    limits = context.limits
    if isinstance(source, bytes | bytearray):
        # Checked before parsing: the size, and the sessions counted by their start tag (with a prefix or not).
        sessions = source.count(b"<session") + source.count(b":session")
        too_much = limits.message_too_large(len(source)) or limits.too_many_items(sessions, "sessions")
        if too_much is not None:
            yield Rejected((too_much,), None, SUBJECT)
            return
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    head = bytes(source[:1024]) if isinstance(source, bytes | bytearray) else b""
    region = context.partner.removeprefix("region-")
    feed = Feed(stream)
    number = 0
    outcomes = 0
    try:
        for number, formation in enumerate(feed, start=1):
            if number == 1 and (wrong := _not_lheo(feed.root, head)) is not None:
                yield wrong
                return
            for outcome in _translate_formation(formation, number, region, limits):
                outcomes += 1
                too_many = limits.too_many_items(outcomes, "sessions")  # a stream from a file: counted as read
                if too_many is not None:
                    yield Rejected((too_many,), None, SUBJECT)
                    return
                yield outcome
    except EntitiesDeclared as exc:
        yield Rejected.one("xml", exc.msg, "DOCTYPE", subject=SUBJECT)
        return
    except etree.XMLSyntaxError as exc:
        html = _not_lheo(etree.Element("html"), head) if not number and _HTML.search(head) else None
        if html is not None:
            yield html
            return
        line = exc.lineno or 1
        yield Rejected.one(
            "xml",
            f"XML illisible ligne {line} : {_xml_error(exc.msg)}",
            f"ligne {line}",
            position=f"après la formation {number}" if number else None,
            subject=SUBJECT,
        )
        return
    if not number:
        yield _not_lheo(feed.root, head) or Rejected.one(
            "vide", "flux LHEO sans aucune formation : rien à traduire", "offres", subject=SUBJECT
        )


def _xml_error(message: str) -> str:
    """libxml2's message, in French for what a sender most often gets wrong; never the bytes it quotes."""
    if "not proper UTF-8" in message or "Invalid bytes in character encoding" in message or "Bytes:" in message:
        return (
            "octets invalides pour l'encodage du document (UTF-8 sans déclaration ; un flux en latin-1 déclare "
            '<?xml version="1.0" encoding="ISO-8859-1"?>)'
        )
    if "Document is empty" in message or "no element found" in message or "Start tag expected" in message:
        return "document vide ou qui ne commence pas par une balise"
    if "amplification" in message or "Detected an entity reference loop" in message:
        return "entités XML refusées (déclarations qui se démultiplient) : un flux LHEO n'en a pas besoin"
    if "Excessive depth" in message:
        return "imbrication trop profonde (256 niveaux au plus pour l'analyseur XML)"
    return message


def _translate_formation(
    formation: etree._Element, number: int, region: str, limits: Limits = LIMITS
) -> Iterator[Outcome]:
    ns = etree.QName(formation).namespace or ""
    find = _Finder(ns)
    screened = _screen(formation, number, find.prefix, limits)
    if screened.formation:
        yield Rejected(tuple(screened.formation), f"formation {number}", SUBJECT)
        return
    try:
        common = _formation_fields(formation, find, ns, region)
    except _Bad as bad:
        yield Rejected((bad.problem,), f"formation {number}", SUBJECT)
        return
    sessions = 0
    for a_index, action in enumerate(find.all(formation, "action"), start=1):
        # Reported on each session: each session is its own event.
        action_problems: list[Problem] = list(screened.actions.get(a_index, ()))
        shared = common
        if not action_problems:
            try:
                shared = {**common, **_action_fields(action, find, f"formation[{number}]/action[{a_index}]")}
            except _Bad as bad:
                action_problems = [bad.problem]
        for s_index, session in enumerate(find.all(action, "session"), start=1):
            sessions += 1
            numero = session.get("numero") or f"{action.get('numero') or a_index}-{s_index}"
            where = f"formation[{number}]/action[{a_index}]/session[{s_index}]"
            # The position is shown to the sender: a session named by a NIR, an e-mail... is shown by its place.
            named = numero if shown_value(numero) == numero else f"{a_index}-{s_index}"
            position = f"formation {number} / session {named}"
            if action_problems:
                yield Rejected(tuple(action_problems), position, SUBJECT)
                continue
            if (a_index, s_index) in screened.sessions:
                yield Rejected(tuple(screened.sessions[(a_index, s_index)]), position, SUBJECT)
                continue
            try:
                record = {**shared, **_session_fields(session, find, where)}
            except _Bad as bad:
                yield Rejected((bad.problem,), position, SUBJECT)
                continue
            record["idSession"] = f"{region}:{numero}"
            record["idAction"] = action.get("numero") or f"{common['idFormation']}-{a_index}"
            yield Draft(SUBJECT, record, record["idSession"], position, f"session:{numero}")
    if not sessions:  # an event is a session: a formation without any would vanish without a word
        message = "formation sans aucune session (action/session) : rien à traduire"
        yield Rejected.one("vide", message, f"formation[{number}]", position=f"formation {number}", subject=SUBJECT)


def _screen(formation: etree._Element, number: int, prefix: str, limits: Limits) -> _Screened:
    """One look at the whole formation as text first, in C: the serialisation bounds every text, attribute and
    name with markup, so it holds a NIR or a forbidden character exactly when one of them does, and no field is
    longer than it. The walk that says where runs only when that look finds something."""
    text = etree.tostring(formation, encoding="unicode", with_tail=False)
    data = normalised_utf8(text)
    ancestors = sum(1 for _ in formation.iterancestors())
    too_deep = _deeper(formation, limits.depth - ancestors)
    if too_deep or utf8_holds_nir(data) or may_hold_forbidden(data) or len(text) > limits.field_chars:
        return _Screened(formation, number, prefix, limits, too_deep)
    return _CLEAN


def _deeper(formation: etree._Element, levels: int) -> bool:
    """Whether an element lies more than ``levels`` levels down from the formation (the formation is level 1)."""
    if levels < 1:
        return True
    return bool(_below(levels)(formation))


@functools.cache
def _below(levels: int) -> etree.XPath:
    return etree.XPath("boolean(" + "/".join(["*"] * levels) + ")")


class _Screened:
    """What the guard found in a formation, by the smallest item it concerns: a problem in a session refuses
    that session, in an action (outside its sessions) every session of the action, elsewhere the formation.

    One pass over every element, text, tail, attribute and name of the formation (comments included), in C
    through ``iter``; paths are only built for what is found.
    """

    def __init__(
        self,
        formation: etree._Element | None = None,
        number: int = 0,
        prefix: str = "",
        limits: Limits = LIMITS,
        too_deep: bool = False,
    ) -> None:
        self.formation: list[Problem] = []
        self.actions: dict[int, list[Problem]] = {}
        self.sessions: dict[tuple[int, int], list[Problem]] = {}
        if formation is None:
            return
        self._root = formation
        self._number = number
        self._action = f"{prefix}action"
        self._session = f"{prefix}session"
        self._limits = limits
        if too_deep:
            self.formation.append(limits.too_deep(f"formation[{number}]"))
            return
        for node in formation.iter():
            if isinstance(node.tag, str):
                self._check(node, node.tag.rpartition("}")[2], "", in_name=True)
                for name, value in node.items():
                    local = str(name).rpartition("}")[2]
                    self._check(node, local, "", in_name=True)
                    self._check(node, str(value), f"/@{shown_name(local)}")
            self._check(node, node.text, "")
            if node.tail is not None and node is not formation:
                self._check(node.getparent(), node.tail, "")

    def _check(self, node: etree._Element | None, text: str | None, suffix: str, in_name: bool = False) -> None:
        if not text or node is None or text_problem(text, "", self._limits, in_name) is None:
            return
        path, scope = self._locate(node)
        problem = text_problem(text, path + suffix, self._limits, in_name)
        if problem is not None:
            self._add(scope, problem)

    def _locate(self, node: etree._Element) -> tuple[str, tuple[int, ...]]:
        """The XML path of ``node`` (``formation[2]/action[1]/session[3]/periode/debut``) and the indexes of the
        action and session holding it."""
        chain: list[etree._Element] = []
        current: etree._Element | None = node
        while current is not None and current is not self._root:
            chain.insert(0, current)
            current = current.getparent()
        names = [f"formation[{self._number}]"]
        scope: list[int] = []
        for depth, element in enumerate(chain):
            tag = element.tag
            if not isinstance(tag, str):
                names.append("(commentaire)")
                continue
            name = shown_name(tag.rpartition("}")[2])
            if (depth, tag) in ((0, self._action), (1, self._session)) and len(scope) == depth:
                index = 1 + sum(1 for _ in element.itersiblings(tag, preceding=True))
                name = f"{name}[{index}]"
                scope.append(index)
            names.append(name)
        return "/".join(names), tuple(scope)

    def _add(self, scope: tuple[int, ...], problem: Problem) -> None:
        if len(scope) >= 2:
            self.sessions.setdefault((scope[0], scope[1]), []).append(problem)
        elif scope:
            self.actions.setdefault(scope[0], []).append(problem)
        else:
            self.formation.append(problem)


_CLEAN = _Screened()


@functools.cache
def _steps(prefix: str, path: str) -> tuple[str, ...]:
    return tuple(prefix + part for part in path.split("/"))


def _descend(element: etree._Element | None, tags: Sequence[str]) -> etree._Element | None:
    """The first child with each tag in turn, or None."""
    for tag in tags:
        if element is None:
            return None
        element = next(element.iterchildren(tag), None)
    return element


class _Finder:
    """Namespace-agnostic child lookups (LHEO 2.2, 2.3 or no namespace).

    Walks direct children with ``iterchildren``, about twice as fast as ``find`` and its path parser.
    """

    def __init__(self, ns: str) -> None:
        self.prefix = f"{{{ns}}}" if ns else ""

    def one(self, element: etree._Element | None, path: str) -> etree._Element | None:
        return _descend(element, _steps(self.prefix, path))

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        *parents, last = _steps(self.prefix, path)
        parent = _descend(element, parents)
        return list(parent.iterchildren(last)) if parent is not None else []

    def text(self, element: etree._Element | None, path: str) -> str | None:
        found = self.one(element, path)
        return ((found.text or "").strip() or None) if found is not None else None

    def texts(self, element: etree._Element, path: str) -> list[str]:
        return [t for t in ((e.text or "").strip() for e in self.all(element, path)) if t]


def _formation_fields(formation: etree._Element, find: _Finder, ns: str, region: str) -> dict[str, Any]:
    domain = find.one(formation, "domaine-formation")
    formacodes = find.all(domain, "code-FORMACODE") if domain is not None else []
    certification = find.one(formation, "certification")
    organisme = find.one(formation, "organisme-formation-responsable")
    where = "formation"
    intitule = find.text(formation, "intitule-formation")
    if not intitule:
        path = f"{where}/intitule-formation"
        raise _Bad(Problem("obligatoire", "intitulé de la formation absent", path, "obligatoire"))
    return {
        "idFormation": formation.get("numero") or intitule[:40],
        "region": region,
        "versionLheo": NAMESPACES.get(ns, "2.2"),
        "intitule": intitule,
        "codesFormacode": _codes([(e.text or "").strip() for e in formacodes], "formacode", f"{where}/code-FORMACODE"),
        "versionFormacode": formacodes[0].get("ref") if formacodes else None,
        "codesRome": _codes(_texts(find, domain, "code-ROME"), "rome", f"{where}/code-ROME"),
        "codesNsf": _codes(_texts(find, domain, "code-NSF"), "nsf", f"{where}/code-NSF"),
        "certifiante": find.text(formation, "certifiante") == "1",
        "codeRncp": _prefixed(
            find.text(certification, "code-RNCP"), "RNCP", "rncp", f"{where}/certification/code-RNCP"
        ),
        "codeRs": _prefixed(find.text(certification, "code-RS"), "RS", "rs", f"{where}/certification/code-RS"),
        "codeCertifinfo": find.text(certification, "code-CERTIFINFO"),
        "codeNiveauEntree": find.text(formation, "code-niveau-entree"),
        "codeNiveauSortie": find.text(formation, "code-niveau-sortie"),
        "objectifGeneral": find.text(formation, "objectif-general-formation"),
        "objectif": find.text(formation, "objectif-formation"),
        "organisme": {
            "siret": _siret(find.text(organisme, "SIRET-organisme-formation/SIRET"), f"{where}/organisme/SIRET"),
            "nom": find.text(organisme, "nom-organisme") or find.text(organisme, "raison-sociale") or "inconnu",
            "raisonSociale": find.text(organisme, "raison-sociale"),
            "numeroActivite": find.text(organisme, "numero-activite"),
        },
    }


def _texts(find: _Finder, element: etree._Element | None, path: str) -> list[str]:
    return find.texts(element, path) if element is not None else []


def _action_fields(action: etree._Element, find: _Finder, where: str) -> dict[str, Any]:
    place = find.one(action, "lieu-de-formation/coordonnees")
    hours = _int(find.text(action, "nombre-heures-total"), f"{where}/nombre-heures-total")
    if hours is None:
        parts = [
            _int(find.text(action, p), f"{where}/{p}") for p in ("nombre-heures-centre", "nombre-heures-entreprise")
        ]
        hours = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    return {
        "lieuFormation": _place(place, find, find.text(place, "nom")) if place is not None else None,
        "modalitesEntreesSorties": _ENTREES.get(find.text(action, "modalites-entrees-sorties") or "", "INCONNU"),
        "modalitesEnseignement": _ENSEIGNEMENT.get(find.text(action, "modalites-enseignement") or "", "INCONNU"),
        "financeurs": [
            {
                "codeFinanceur": find.text(f, "code-financeur") or "0",
                "nbPlacesFinancees": _int(
                    find.text(f, "nb-places-financees"), f"{where}/organisme-financeur[{i}]/nb-places-financees"
                ),
            }
            for i, f in enumerate(find.all(action, "organisme-financeur"), start=1)
        ],
        "nombreHeuresTotal": hours,
        "siretFormateur": _siret(
            find.text(action, "organisme-formateur/SIRET-formateur/SIRET"), f"{where}/organisme-formateur/SIRET"
        ),
        "urlSession": find.text(action, "url-action/urlweb"),
    }


def _session_fields(session: etree._Element, find: _Finder, where: str) -> dict[str, Any]:
    start, start_precision = _lheo_date(find.text(session, "periode/debut"), f"{where}/periode/debut")
    end, end_precision = _lheo_date(find.text(session, "periode/fin"), f"{where}/periode/fin")
    registration = find.one(session, "adresse-inscription/adresse")
    updated = session.get("datemaj")
    return {
        "dateDebut": start,
        "precisionDateDebut": start_precision,
        "dateFin": end,
        "precisionDateFin": end_precision,
        "adresseInscription": _address(registration, find, None) if registration is not None else None,
        "etatRecrutement": _ETAT.get(find.text(session, "etat-recrutement") or "", "INCONNU"),
        "dateMaj": _lheo_date(updated, f"{where}/@datemaj")[0] if updated else None,
    }


def _place(coordinates: etree._Element, find: _Finder, label: str | None) -> dict[str, Any] | None:
    address = find.one(coordinates, "adresse")
    return _address(address, find, label) if address is not None else {"libelle": label, "lignes": []}


def _address(address: etree._Element, find: _Finder, label: str | None) -> dict[str, Any]:
    commune = find.text(address, "code-INSEE-commune")
    postcode = find.text(address, "codepostal")
    department = find.text(address, "departement")
    region = find.text(address, "region")
    return {
        "libelle": label,
        "lignes": find.texts(address, "ligne")[:4],
        "codePostal": postcode if postcode and FORMATS["code_postal"].matches(postcode) else None,
        "ville": find.text(address, "ville"),
        "codeInseeCommune": commune if commune and FORMATS["commune_insee"].matches(commune) else None,
        "departement": department if department and FORMATS["departement"].matches(department) else None,
        "region": region if region and FORMATS["region"].matches(region) else None,
        "latitude": _float(find.text(address, "geolocalisation/latitude")),
        "longitude": _float(find.text(address, "geolocalisation/longitude")),
    }


def _lheo_date(text: str | None, path: str) -> tuple[str | None, str]:
    """``AAAAMMJJ`` → (ISO date, JOUR); ``AAAAMM00`` → (first of month, MOIS); 00000000/99999999 → unknown."""
    if not text or text in ("00000000", "99999999"):
        return None, "INCONNU"
    if not _DATE.fullmatch(text):
        raise _Bad(
            Problem("date", "date LHEO invalide, attendue AAAAMMJJ", path, "date", "AAAAMMJJ", shown_value(text))
        )
    month_only = text.endswith("00")
    try:
        day = dt.date(int(text[:4]), int(text[4:6]), 1 if month_only else int(text[6:]))
    except ValueError:
        problem = Problem("date", "date LHEO invalide, attendue AAAAMMJJ", path, "date", "AAAAMMJJ", shown_value(text))
        raise _Bad(problem) from None
    return day.isoformat(), "MOIS" if month_only else "JOUR"


def _codes(values: list[str], fmt: str, path: str) -> list[str]:
    for value in values:
        if not FORMATS[fmt].matches(value):
            raise _Bad(
                Problem(
                    "format",
                    f"format invalide, attendu : {FORMATS[fmt].expected}",
                    path,
                    f"format_{fmt}",
                    FORMATS[fmt].expected,
                    shown_value(value),
                )
            )
    return values


def _prefixed(value: str | None, prefix: str, fmt: str, path: str) -> str | None:
    """LHEO carries RNCP/RS numbers bare (``320``); the contract names them ``RNCP320``."""
    if not value:
        return None
    code = prefix + value if _DIGITS.fullmatch(value) else value.upper()
    _codes([code], fmt, path)
    return code


def _siret(value: str | None, path: str) -> str | None:
    if not value:
        return None
    compact = value.replace(" ", "")
    _codes([compact], "siret", path)
    return compact


def _int(text: str | None, path: str) -> int | None:
    """A count (hours, places): ASCII digits only, within what the contract's int holds."""
    if not text:
        return None
    if not _DIGITS.fullmatch(text):  # str.isdigit() also takes "²", which int() then refuses
        expected = "nombre entier"
        raise _Bad(
            Problem("type", "nombre entier attendu (chiffres de 0 à 9)", path, "type", expected, shown_value(text))
        )
    significant = text.lstrip("0") or "0"
    if len(significant) > _INT_DIGITS or int(significant) > _INT_MAX:  # int() refuses 4,300 digits and more
        expected = f"≤ {_INT_MAX}"
        shown = shown_value(text) if len(text) <= 20 else f"{len(text)} chiffres"
        raise _Bad(Problem("borne", f"valeur trop grande ({expected})", path, "borne", expected, shown))
    return int(significant)


def _float(text: str | None) -> float | None:
    """A coordinate: a decimal in ASCII digits, else unknown (coordinates only place the session on a map)."""
    return float(text) if text and _DECIMAL.fullmatch(text) else None
