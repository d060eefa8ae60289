"""The console's pages, as HTML text built from the figures; no I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from passerelle.broker import topics
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import PartnerProfile, Profiles
from passerelle.runtime.replay import DlqEntry
from services.console.fields import received_fields
from services.console.flows import DIRECTIONS, Flows, PartnerState
from services.console.html import Markup, esc, join, link, page, table, tag
from services.console.masking import masked_body

RAW_NOTE = "Message d'origine tel que reçu (données personnelles possibles ; consultation journalisée)."


def when(seconds: float | None) -> str:
    return "—" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    return f"{days} j {hours} h" if days else f"{hours} h {mins} min"


def _state(partner: PartnerState) -> str:
    if partner.silent_for_s is not None:
        return f"silencieux depuis {duration(partner.silent_for_s)}"
    return "aucun message reçu" if partner.last_message_s is None else "actif"


def flows_page(figures: Flows, unreachable: Sequence[str]) -> str:
    warning = (
        tag("p", "Métriques injoignables : " + ", ".join(unreachable), class_="avertissement") if unreachable else ""
    )
    partners = table(
        ("partenaire", "nom", "en DLQ", "dernier message", "silence admis", "état"),
        (
            (
                link(f"/partenaires/{p.partner}", p.partner),
                p.name,
                p.dlq,
                when(p.last_message_s),
                duration(p.silence_max_s) if p.silence_max_s is not None else "—",
                _state(p),
            )
            for p in figures.partners
        ),
        ("silencieux" if p.silent_for_s is not None else "" for p in figures.partners),
    )
    silent = {p.partner for p in figures.partners if p.silent_for_s is not None}
    rows = table(
        ("partenaire", "sens", "événement", "dialecte", "messages", "dont refusés (DLQ)"),
        ((r.partner, DIRECTIONS[r.direction], r.event, r.dialect, r.messages, r.refused) for r in figures.rows),
        ("silencieux" if r.partner in silent and r.direction == "in" else "" for r in figures.rows),
    )
    source = tag("p", "Comptes lus sur le /metrics de chaque service, depuis son démarrage.")
    return page("Flux", warning, source, tag("h2", "Partenaires"), partners, tag("h2", "Flux par événement"), rows)


def sender(entry: DlqEntry) -> str:
    # The topic says who wrote it; a header only claims it (a forged one is why some records are here).
    return (
        topics.sender_of(entry.error("source_topic"))
        or entry.header("passerelle_sender")
        or entry.original("ce_source")
    )


def service_of(entry: DlqEntry) -> str:
    return entry.topic.removeprefix(topics.dlq(""))


def record_href(entry: DlqEntry) -> str:
    return f"/dlq/{service_of(entry)}/{entry.partition}/{entry.offset}"


def _filters(services: Sequence[str], service: str, partner: str, code: str) -> Markup:
    options = join(
        tag("option", label or "tous", value=value, selected="selected" if value == service else "")
        for value, label in [("", ""), *((s, s) for s in services)]
    )
    fields = join(
        [
            tag("label", join(["service ", tag("select", options, name="service")])),
            " ",
            tag("label", join(["partenaire ", Markup(f'<input name="partenaire" value="{esc(partner)}">')])),
            " ",
            tag("label", join(["code d'erreur ", Markup(f'<input name="code" value="{esc(code)}">')])),
            " ",
            Markup('<button type="submit">Filtrer</button>'),
        ]
    )
    return tag("form", fields, method="get", action="/dlq")


def dlq_page(entries: Sequence[DlqEntry], services: Sequence[str], service: str, partner: str, code: str) -> str:
    rows = table(
        ("service", "réf", "reçu le", "expéditeur", "source", "code", "champ", "message"),
        (
            (
                service_of(e),
                link(record_href(e), e.ref),
                when(e.timestamp_ms / 1000),
                sender(e),
                f"{e.error('source_topic')}/{e.error('source_partition')}@{e.error('source_offset')}",
                e.error("code"),
                e.error("path"),
                e.error("message"),
            )
            for e in entries
        ),
    )
    count = tag("p", f"{len(entries)} message(s) en erreur.")
    return page("Lettres mortes", _filters(services, service, partner, code), count, rows)


def record_page(entry: DlqEntry, raw: bool) -> str:
    error = table(
        ("", ""),
        (
            ("code", entry.error("code")),
            ("champ", entry.error("path")),
            ("position", entry.error("position") or "—"),
            ("message", entry.error("message")),
            ("contrat", entry.error("contract") or "—"),
            ("expéditeur", sender(entry)),
            ("service", entry.error("service") or service_of(entry)),
            ("topic source", entry.error("source_topic")),
            ("partition source", entry.error("source_partition")),
            ("offset source", entry.error("source_offset")),
            ("reçu le", when(entry.timestamp_ms / 1000)),
        ),
    )
    problems = table(
        ("champ", "règle", "message", "attendu", "reçu", "position"),
        (
            tuple(p.get(k) or "—" for k in ("chemin", "regle", "message", "attendu", "recu", "position"))
            for p in entry.details
        ),
    )
    headers = table(("en-tête", "valeur"), ((k, (v or b"").decode("utf-8", "replace")) for k, v in entry.headers))
    if raw:
        body_note = tag(
            "p", "Message d'origine tel que reçu (données personnelles possibles ; consultation journalisée)."
        )
        body = entry.value.decode("utf-8", "replace")
    else:
        note = join(["Données personnelles masquées. ", link(f"{record_href(entry)}?brut=1", "Voir le message brut")])
        body_note = tag("p", join([note, " (consultation journalisée)."]))
        body = masked_body(entry.value)
    return page(
        f"{entry.topic} {entry.ref}",
        tag("h2", "Erreur"),
        error,
        tag("h2", "Problèmes"),
        problems,
        tag("h2", "En-têtes"),
        headers,
        tag("h2", "Message d'origine"),
        body_note,
        tag("pre", body),
    )


def partners_page(profiles: Profiles) -> str:
    rows = table(
        ("partenaire", "nom", "famille", "publie", "reçoit"),
        (
            (
                link(f"/partenaires/{p.id}", p.id),
                p.name,
                p.family,
                ", ".join(p.publishes) or "—",
                ", ".join(p.receives) or "—",
            )
            for p in profiles
        ),
    )
    return page("Partenaires et vues", rows)


def _reception(catalogue: Catalogue, profile: PartnerProfile, event: str) -> Markup:
    reception = profile.receives[event]
    fields = received_fields(catalogue, event, reception)
    about = table(
        ("", ""),
        (
            ("dialecte", reception.dialect.value),
            ("vue (catégories personnelles)", ", ".join(reception.view) or "pseudonyme seul"),
            ("texte libre", "oui" if reception.free_text else "non"),
            ("contrat", f"{event} version {fields.version}"),
        ),
    )
    delivered = tag("ul", join(tag("li", tag("code", f)) for f in fields.delivered))
    withheld = tag("ul", join(tag("li", tag("code", f)) for f in fields.withheld)) if fields.withheld else "aucun"
    return join(
        [
            tag("h3", event),
            about,
            tag("h4", f"Champs reçus ({len(fields.delivered)})"),
            delivered,
            tag("h4", "Champs retenus (valeur par défaut du contrat)"),
            withheld,
        ]
    )


def partner_page(catalogue: Catalogue, profile: PartnerProfile) -> str:
    about = table(
        ("", ""),
        (
            ("identifiant", profile.id),
            ("famille", profile.family),
            ("région", profile.region or "—"),
            ("silence admis", f"{profile.silence_max_hours} h" if profile.silence_max_hours else "—"),
        ),
    )
    published = table(("événement", "dialecte"), ((e, f.dialect.value) for e, f in profile.publishes.items()))
    received = join(_reception(catalogue, profile, event) for event in profile.receives)
    return page(
        f"{profile.name} ({profile.id})",
        about,
        tag("h2", "Publie"),
        published,
        tag("h2", "Reçoit, champ par champ"),
        received or "rien",
    )


def not_found_page(what: str) -> str:
    return page("Introuvable", tag("p", what))
