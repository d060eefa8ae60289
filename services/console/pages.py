"""The console's pages, as HTML text built from the figures; no I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle.broker import topics
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import PartnerProfile, Profiles
from passerelle.runtime.replay import DlqEntry
from services.console.fields import received_fields
from services.console.flows import DIRECTIONS, FlowRow, Flows, Latency, PartnerState
from services.console.html import Markup, esc, field, hidden, join, link, page, post_form, select, table, tag
from services.console.masking import masked_body
from services.console.replays import event_of
from services.console.sources import Sample

READ_ONLY = "Rejeu réservé au rôle opérateur."
NO_FORM = "Rejeu depuis une session ouverte par la page de connexion (pas de formulaire en HTTP Basic ni par jeton)."
RAW_NOTE = "Message d'origine tel que reçu (données personnelles possibles ; consultation journalisée)."


def body_encoding(value: bytes) -> str:
    """How to show and edit a body: UTF-8, else Latin-1 (the Regions' historical CSV exports)."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def body_text(value: bytes) -> str:
    return value.decode(body_encoding(value))


def when(seconds: float | None) -> str:
    return "—" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    return f"{days} j {hours} h" if days else f"{hours} h {mins} min"


def _state(partner: PartnerState) -> str:
    if partner.stuck:  # the partner did send: what waits is Passerelle's to read
        return (
            f"silencieux depuis {duration(partner.silent_for_s or 0)}, {partner.waiting} message(s) en attente non lus"
        )
    if partner.silent_for_s is not None:
        return f"silencieux depuis {duration(partner.silent_for_s)}"
    return "aucun message reçu" if partner.last_message_s is None else "actif"


def seconds(value: float) -> str:
    """A delay as an operator reads it: milliseconds below one second, else seconds."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s".replace(".", ",")


def _quantile(value: float, past: bool) -> str:
    return f"> {seconds(value)}" if past else seconds(value)


def _latency(latency: Latency | None) -> tuple[str, str]:
    # Measured where a delivery is written (out.<partner>): a publication's row has it on its recipients' rows.
    if latency is None:
        return "—", "—"
    return _quantile(latency.median_s, latency.median_past), _quantile(latency.p95_s, latency.p95_past)


def _lag_latency(row: FlowRow) -> tuple[str, str, str]:
    return ("—" if row.lag is None else str(row.lag), *_latency(row.latency))


def flows_page(figures: Flows, unreachable: Sequence[str]) -> str:
    warning = (
        tag("p", "Métriques injoignables : " + ", ".join(unreachable), class_="avertissement") if unreachable else ""
    )
    partners = table(
        ("partenaire", "nom", "en DLQ", "en attente", "dernier message", "silence admis", "état"),
        (
            (
                link(f"/partenaires/{p.partner}", p.partner),
                p.name,
                p.dlq,
                "—" if p.waiting is None else p.waiting,
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
        (
            "partenaire",
            "sens",
            "événement",
            "dialecte",
            "messages",
            "dont refusés (DLQ)",
            "en attente (lag)",
            "latence médiane",
            "latence p95",
        ),
        (
            (r.partner, DIRECTIONS[r.direction], r.event, r.dialect, r.messages, r.refused, *_lag_latency(r))
            for r in figures.rows
        ),
        ("silencieux" if r.partner in silent and r.direction == "in" else "" for r in figures.rows),
    )
    source = tag(
        "p",
        "Comptes et latences lus sur le /metrics de chaque service, depuis son démarrage. « En attente » : "
        "retard des consommateurs sur le topic du partenaire (in.<partenaire> pour ce qu'il publie, "
        "deliver.<partenaire> pour ce qu'il reçoit), commun à ses événements. Latence de bout en bout : de "
        "l'horodatage ce_time de l'événement d'origine à l'écriture sur out.<partenaire>, estimée depuis les "
        "tranches de l'histogramme.",
    )
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


@dataclass(frozen=True)
class DlqFilters:
    """The list's filters, as the form sends them back."""

    service: str = ""
    partner: str = ""
    event: str = ""
    code: str = ""
    since: str = ""  # ISO date or date-time, UTC
    until: str = ""

    def matches(self, entry: DlqEntry) -> bool:
        at = when(entry.timestamp_ms / 1000)[:19].replace(" ", "T")
        return (
            (not self.partner or sender(entry) == self.partner)
            and (not self.event or event_of(entry) == self.event)
            and (not self.code or entry.error("code") == self.code)
            and (not self.since or at >= _bound(self.since))
            and (not self.until or at <= _bound(self.until, end=True))
        )


def _bound(text: str, end: bool = False) -> str:
    # A bare date covers its whole day; « 2026-03-01 10:00 » is read as « 2026-03-01T10:00:00 ».
    text = text.strip().replace(" ", "T")
    if len(text) == 10:
        return text + ("T23:59:59" if end else "T00:00:00")
    return (text + ":00")[:19] if len(text) == 16 else text[:19]


def _filters(services: Sequence[str], events: Sequence[str], chosen: DlqFilters) -> Markup:
    fields = join(
        [
            select("service", "service", [("", "tous"), *((s, s) for s in services)], chosen.service),
            field("partenaire", "partenaire", chosen.partner, size="10"),
            select("événement", "evenement", [("", "tous"), *((e, e) for e in events)], chosen.event),
            field("code d'erreur", "code", chosen.code, size="10"),
            field("depuis", "depuis", chosen.since, placeholder="AAAA-MM-JJ", size="16"),
            field("jusqu'à", "jusqua", chosen.until, placeholder="AAAA-MM-JJ hh:mm", size="16"),
            Markup('<button type="submit">Filtrer</button>'),
        ]
    )
    return tag("form", fields, method="get", action="/dlq", class_="filtres")


def entry_key(entry: DlqEntry) -> str:
    """How a form names a record: ``service/partition/offset``."""
    return f"{service_of(entry)}/{entry.partition}/{entry.offset}"


def dlq_page(
    entries: Sequence[DlqEntry],
    services: Sequence[str],
    events: Sequence[str],
    chosen: DlqFilters,
    csrf: str | None = None,
) -> str:
    """The list; with ``csrf`` (an operator's session) each row has a box and the selection can be replayed."""
    headers = ("service", "réf", "reçu le", "expéditeur", "événement", "source", "code", "champ", "position", "message")
    rows = table(
        (("",) if csrf else ()) + headers,
        (
            (
                *((Markup(f'<input type="checkbox" name="ref" value="{esc(entry_key(e))}">'),) if csrf else ()),
                service_of(e),
                link(record_href(e), e.ref),
                when(e.timestamp_ms / 1000),
                sender(e),
                event_of(e) or "—",
                f"{e.error('source_topic')}/{e.error('source_partition')}@{e.error('source_offset')}",
                e.error("code"),
                e.error("path"),
                e.error("position") or "—",
                e.error("message"),
            )
            for e in entries
        ),
    )
    count = tag("p", f"{len(entries)} message(s) en erreur.")
    if csrf and entries:
        button = Markup('<p><button type="submit">Rejouer la sélection…</button> (confirmation demandée)</p>')
        listing = post_form("/rejouer", csrf, rows, button)
    else:
        listing = rows
    return page("Lettres mortes", _filters(services, events, chosen), count, listing)


def record_page(entry: DlqEntry, raw: bool, csrf: str | None = None, no_replay: str = READ_ONLY) -> str:
    """One record; with ``csrf`` (an operator's session) the forms that replay it, as it is or corrected."""
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
        body_note = tag("p", RAW_NOTE)
        body = body_text(entry.value)
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
        tag("pre", body, id="corps"),
        _replay_forms(entry, raw, csrf) if csrf else tag("p", no_replay),
    )


def _replay_forms(entry: DlqEntry, raw: bool, csrf: str) -> Markup:
    as_is = post_form(
        "/rejouer",
        csrf,
        hidden("ref", entry_key(entry)),
        Markup('<button type="submit">Rejouer tel quel…</button>'),
    )
    if not raw:
        hint = join(
            ["Pour corriger le message avant de le rejouer, ", link(f"{record_href(entry)}?brut=1", "ouvrez-le")]
        )
        return join([tag("h2", "Rejouer"), as_is, tag("p", join([hint, " (consultation journalisée)."]))])
    edit = post_form(
        "/rejouer",
        csrf,
        hidden("ref", entry_key(entry)),
        tag("p", CSV_HINT if entry.error("position").startswith("ligne") else "Corrigez le message :"),
        # The parser drops a newline right after <textarea>: one is given so a body's own first one is kept.
        tag("textarea", "\n" + body_text(entry.value), name="corps", rows="12"),
        Markup('<p><button type="submit">Rejouer le message corrigé…</button> (confirmation demandée)</p>'),
    )
    return join([tag("h2", "Rejouer"), as_is, tag("h3", "Corriger puis rejouer"), edit])


CSV_HINT = (
    "Corrigez la ligne en erreur ; gardez la ligne d'en-tête et seulement les lignes à rejouer : "
    "les autres ont déjà été acceptées."
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


# The gateway's webhook gauges, per partner: what the partner page says of a pushed delivery.
_WEBHOOK = "passerelle_gateway_webhook_"
_WEBHOOK_PAUSED = "passerelle_gateway_webhook_paused"
_WEBHOOK_FAILING = "passerelle_gateway_webhook_failing_seconds"
_WEBHOOK_BACKLOG = "passerelle_gateway_webhook_backlog_messages"


def delivery_of(profile: PartnerProfile, samples: Sequence[Sample]) -> str:
    """How the partner receives, and for a webhook its state as the gateway reports it."""
    if profile.webhook is None:
        return (
            f"Kafka ({topics.outbound(profile.id)}, {topics.feedback(profile.id)}) "
            f"ou API de lecture (/v1/partners/{profile.id}/events)"
        )
    allowed = f"webhook {profile.webhook.url} (panne tolérée {profile.webhook.outage_max_hours} h)"
    seen = {s.name: s.value for s in samples if s.labels.get("partner") == profile.id and s.name.startswith(_WEBHOOK)}
    if not seen:
        return f"{allowed} — état inconnu (métriques de la passerelle HTTPS injoignables)"
    if seen.get(_WEBHOOK_PAUSED, 0) > 0:
        state = "suspendu : panne plus longue que tolérée, reprise à la prochaine tentative"
    elif seen.get(_WEBHOOK_FAILING, 0) > 0:
        state = f"en échec depuis {seen[_WEBHOOK_FAILING]:.0f} s"
    else:
        state = "livre"
    return f"{allowed} — {state}, {seen.get(_WEBHOOK_BACKLOG, 0):.0f} message(s) en attente"


def partner_page(catalogue: Catalogue, profile: PartnerProfile, samples: Sequence[Sample] = ()) -> str:
    about = table(
        ("", ""),
        (
            ("identifiant", profile.id),
            ("famille", profile.family),
            ("région", profile.region or "—"),
            ("silence admis", f"{profile.silence_max_hours} h" if profile.silence_max_hours else "—"),
            ("livraison", delivery_of(profile, samples)),
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
