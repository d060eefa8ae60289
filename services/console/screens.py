"""The console's pages for access, replays, contracts and audit, as HTML text; no I/O here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from passerelle.core.audit import VerifyReport
from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.partners import Profiles
from passerelle.runtime.replay import DlqEntry
from services.console.access import Session
from services.console.contracts import Change, Example, Field, fields_of
from services.console.html import Markup, esc, field, hidden, join, link, page, post_form, select, table, tag
from services.console.journal import Delivery, Search
from services.console.pages import body_text, entry_key, record_href, sender, when
from services.console.replays import Outcome, Replay, event_of

# ------------------------------------------------------------------ access


def login_page(csrf: str, after: str, error: str = "", oidc: bool = False, issuer: str | None = None) -> str:
    said = tag("p", error, class_="refus") if error else ""
    redirect = (
        join(
            [
                tag("h2", "Avec l'émetteur OIDC"),
                tag(
                    "p",
                    tag(
                        "a",
                        f"Se connecter avec {issuer}",
                        href=f"/connexion/oidc/debut?{urlencode({'suite': after})}",
                        class_="bouton",
                    ),
                ),
            ]
        )
        if issuer
        else ""
    )
    local = post_form(
        "/connexion",
        csrf,
        hidden("suite", after),
        tag("p", field("Utilisateur", "utilisateur", autocomplete="username")),
        tag("p", field("Mot de passe", "mot_de_passe", kind="password", autocomplete="current-password")),
        Markup('<button type="submit">Se connecter</button>'),
    )
    token = (
        join(
            [
                tag("h2", "Avec un jeton OIDC"),
                post_form(
                    "/connexion/jeton",
                    csrf,
                    hidden("suite", after),
                    tag("p", tag("textarea", "", name="jeton", rows="4")),
                    Markup('<button type="submit">Se connecter avec le jeton</button>'),
                ),
            ]
        )
        if oidc
        else ""
    )
    return page("Connexion à la console", said, redirect, tag("h2", "Compte local"), local, token)


def landing_page(target: str) -> str:
    """After a login at the issuer: on to ``target`` (a path of this site) from a page of this site."""
    html = page("Connexion réussie", tag("p", join(["Connexion réussie : ", link(target, "continuer")])))
    refresh = f'<meta http-equiv="refresh" content="0;url={esc(target)}">'
    return html.replace("<head>", f"<head>{refresh}", 1)


def session_bar(session: Session, csrf: str | None) -> Markup:
    out = post_form("/deconnexion", csrf, Markup('<button type="submit">Se déconnecter</button>')) if csrf else ""
    return tag("span", join([f"{session.user} · {session.role.label} ", out]), class_="session")


def refused_page(what: str) -> str:
    return page("Action refusée", tag("p", what, class_="refus"))


# ------------------------------------------------------------------ replays


def confirm_page(chosen: Sequence[tuple[DlqEntry, bytes | None]], csrf: str) -> str:
    """What is about to be sent back, and where; nothing is sent before the second click."""
    rows = table(
        ("message", "expéditeur", "événement", "renvoyé vers", "code d'erreur", "position", "corps"),
        (
            (
                link(record_href(e), f"{e.topic} {e.ref}"),
                sender(e),
                event_of(e) or "—",
                e.error("source_topic"),
                e.error("code"),
                e.error("position") or "—",
                "corrigé" if body is not None and body != e.value else "tel que reçu",
            )
            for e, body in chosen
        ),
    )
    edited = [(e, b) for e, b in chosen if b is not None]
    fields = [hidden("ref", entry_key(e)) for e, _ in chosen]
    # A hidden textarea, not an input: an input's value loses its line breaks, a CSV's rows.
    fields += [tag("textarea", "\n" + body_text(b), name="corps", hidden="hidden") for _, b in edited]
    shown = [tag("h2", "Message corrigé"), tag("pre", body_text(edited[0][1]))] if edited else []
    form = post_form(
        "/rejouer",
        csrf,
        *fields,
        hidden("confirme", "1"),
        Markup('<button type="submit">Confirmer le rejeu</button> '),
        link("/dlq", "Annuler"),
    )
    note = tag("p", f"{len(chosen)} message(s) seront renvoyés vers leur topic d'origine ; le rejeu est journalisé.")
    return page("Confirmer le rejeu", note, rows, *shown, form)


def journal_page(lines: Sequence[Replay], outcomes: Mapping[str, Outcome], batch: str) -> str:
    def result(line: Replay) -> Markup:
        outcome = outcomes.get(line.id)
        if outcome is None:
            return esc("—")
        parts: list[object] = [tag("span", outcome.label, class_=_outcome_class(outcome))]
        parts += [
            " ",
            *(link(f"/dlq/{e.topic.removeprefix('dlq.')}/{e.partition}/{e.offset}", e.ref) for e in outcome.again),
        ]
        parts += [f" {topic} {ref}" for topic, ref in outcome.delivered]
        return join(parts)

    rows = table(
        ("quand", "qui", "via", "message rejoué", "vers", "événement", "corps", "résultat"),
        (
            (
                when(line.at_s),
                line.user,
                line.via,
                f"{line.dlq} {line.ref}",
                line.source_topic,
                line.event or "—",
                "corrigé" if line.edited else "tel que reçu",
                result(line),
            )
            for line in lines
        ),
    )
    pending = any(o.state == "en_attente" or (o.state == "accepte" and not o.delivered) for o in outcomes.values())
    title = f"Rejeu {batch}" if batch else "Journal des rejeux"
    note = "Résultat lu sur les topics : de nouveau en DLQ, ou accepté puis livré (out.<partenaire>)."
    refresh = Markup('<meta http-equiv="refresh" content="3">') if pending and batch else ""
    return page(title, refresh, tag("p", note), rows, link("/rejeux", "Tout le journal") if batch else "")


def _outcome_class(outcome: Outcome) -> str:
    return {"rejete": "refus", "accepte": "ok"}.get(outcome.state, "")


# ------------------------------------------------------------------ contracts


def contracts_page(catalogue: Catalogue, documents: Mapping[str, str]) -> str:
    rows = table(
        ("contrat", "versions", "champs personnels (pii)"),
        (
            (
                link(f"/contrats/{subject}", subject),
                join(
                    part
                    for v in versions
                    for part in (link(f"/contrats/{subject}?version={v.version}", f"v{v.version}"), " ")
                ),
                ", ".join(sorted({f.pii for f in fields_of(versions[-1].schema) if f.pii})) or "—",
            )
            for subject, versions in sorted(catalogue.subjects.items())
        ),
    )
    docs = tag("ul", join(tag("li", link(url, label)) for label, url in documents.items()))
    check = tag("p", link("/contrats/valider", "Valider un message natif (JSON I-MILO, JSON ou CSV régional, LHEO)"))
    return page("Contrats", check, rows, tag("h2", "Documents"), docs)


def _fields_table(fields: Sequence[Field]) -> Markup:
    return table(
        ("champ", "type", "obligatoire", "pii", "documentation"),
        ((tag("code", f.path), f.type, "oui" if f.required else "non", f.pii or "—", f.doc) for f in fields),
        ("pii" if f.pii else "" for f in fields),
    )


def contract_page(versions: Sequence[SchemaVersion], shown: SchemaVersion, examples: Sequence[Example]) -> str:
    subject = shown.subject
    numbers = [(str(v.version), f"v{v.version}") for v in versions]
    compare = tag(
        "form",
        join(
            [
                select("de", "de", numbers, str(versions[0].version)),
                select("à", "a", numbers, str(versions[-1].version)),
                Markup('<button type="submit">Comparer</button>'),
            ]
        ),
        method="get",
        action=f"/contrats/{subject}/diff",
        class_="filtres",
    )
    others = join(
        part for v in versions for part in (link(f"/contrats/{subject}?version={v.version}", f"v{v.version}"), " ")
    )
    listed = [
        join(
            [
                tag("h3", f"{e.name} ({'accepté' if e.valid else 'refusé'})"),
                tag("pre", e.text),
            ]
        )
        for e in examples
    ]
    return page(
        f"{subject} v{shown.version}",
        tag("p", join(["Versions : ", others, f" · nom Avro {shown.full_name}"])),
        compare,
        tag("h2", "Champs"),
        _fields_table(fields_of(shown.schema)),
        tag("h2", "Exemples"),
        join(listed) if listed else tag("p", "aucun exemple"),
        tag("h2", "Schéma Avro"),
        tag("pre", shown.text),
    )


def diff_page(subject: str, before: int, after: int, changes: Sequence[Change]) -> str:
    def cell(f: Field | None) -> str:
        return (
            "—"
            if f is None
            else f"{f.type}{' (obligatoire)' if f.required else ''}{' · pii ' + f.pii if f.pii else ''}"
        )

    rows = table(
        ("champ", "changement", f"v{before}", f"v{after}", "détail"),
        ((tag("code", c.path), c.kind, cell(c.before), cell(c.after), c.what) for c in changes),
    )
    said = tag("p", f"{len(changes)} champ(s) différent(s).") if changes else tag("p", "Aucune différence de champ.")
    return page(f"{subject} : v{before} → v{after}", said, rows, link(f"/contrats/{subject}", "Retour au contrat"))


def validate_page(
    profiles: Profiles,
    catalogue: Catalogue,
    csrf: str,
    partner: str = "",
    event: str = "",
    message: str = "",
    report: Any = None,
    error: str = "",
) -> str:
    form = post_form(
        "/contrats/valider",
        csrf,
        tag(
            "p",
            join(
                [
                    select("partenaire", "partenaire", [(p.id, f"{p.id} — {p.name}") for p in profiles], partner),
                    " ",
                    select("événement", "evenement", [(s, s) for s in sorted(catalogue.subjects)], event),
                ]
            ),
        ),
        tag("p", tag("textarea", message, name="message", rows="14")),
        Markup('<button type="submit">Valider</button>'),
    )
    out: list[object] = [
        tag("p", "Le message est traduit par l'adaptateur du partenaire, hors ligne : rien n'est publié.")
    ]
    if error:
        out.append(tag("p", error, class_="refus"))
    if report is not None:
        verdict = (
            tag("p", f"Conforme : {report.accepted} événement(s) accepté(s).", class_="ok")
            if not report.rejected
            else tag("p", f"{report.rejected} rejeté(s), {report.accepted} accepté(s).", class_="refus")
        )
        problems = table(
            ("position", "champ", "règle", "message", "attendu", "reçu"),
            (
                tuple(p.get(k) or "—" for k in ("position", "chemin", "regle", "message", "attendu", "recu"))
                for p in report.problems
            ),
        )
        out += [tag("h2", "Résultat (comme sur le topic de retour)"), verdict, problems if report.problems else ""]
    return page("Valider un message natif", form, *out)


# ------------------------------------------------------------------ audit


def audit_page(found: Sequence[Delivery], total: int, wanted: Search) -> str:
    filters = tag(
        "form",
        join(
            [
                field("id d'événement", "evenement", wanted.event_id, size="24"),
                field("partenaire", "partenaire", wanted.partner, size="10"),
                field("type", "type", wanted.event_type, size="18"),
                field("depuis", "depuis", wanted.since, placeholder="AAAA-MM-JJ", size="16"),
                field("jusqu'à", "jusqua", wanted.until, placeholder="AAAA-MM-JJ hh:mm", size="16"),
                Markup('<button type="submit">Chercher</button>'),
            ]
        ),
        method="get",
        action="/audit",
        class_="filtres",
    )
    rows = table(
        ("horodatage", "événement", "type", "expéditeur", "destinataire", "champs livrés", "chaîne", "position"),
        (
            (
                d.at,
                tag("code", d.event_id),
                d.event_type,
                d.sender,
                d.recipient,
                ", ".join(d.fields),
                f"{d.chain} #{d.sequence}",
                d.position,
            )
            for d in found
        ),
    )
    count = tag("p", f"{total} livraison(s) trouvée(s)" + (f", {len(found)} affichées." if total > len(found) else "."))
    verify = tag(
        "p",
        join(
            [
                link("/audit/verification", "Vérifier la chaîne signée"),
                " (avec la clé publique du routeur seulement)",
            ]
        ),
    )
    return page("Audit des livraisons", verify, filters, count, rows)


def verification_page(report: VerifyReport | None, keys: int, shown: int = 20) -> str:
    if report is None:
        return page(
            "Vérification de l'audit",
            tag(
                "p",
                "Aucune clé publique configurée (PASSERELLE_AUDIT_PUBLIC_KEY_FILE) : vérification impossible.",
                class_="refus",
            ),
        )
    summary = tag(
        "p", f"{report.records} enregistrement(s), {len(report.chains)} chaîne(s), {keys} clé(s) publique(s)."
    )
    keys_table = table(("clé publique", "enregistrements signés"), report.signed_by.items())
    chains = table(("chaîne", "dernière séquence authentique"), sorted(report.last_sequence.items()))
    if report.ok:
        verdict = tag("p", "Journal intègre : toutes les signatures et toutes les chaînes se vérifient.", class_="ok")
        return page("Vérification de l'audit", verdict, summary, keys_table, chains)
    first = report.breaks[0]
    verdict = tag(
        "p",
        f"Journal NON intègre : {len(report.breaks)} enregistrement(s) falsifié(s) ou rompu(s). Premier : "
        f"audit.deliveries {first.position} (chaîne {first.chain or '?'}, séquence "
        f"{first.sequence if first.sequence is not None else '?'}) : {first.reason}",
        class_="refus",
    )
    breaks = table(
        ("position", "chaîne", "séquence", "raison"),
        (
            (b.position, b.chain or "?", b.sequence if b.sequence is not None else "?", b.reason)
            for b in report.breaks[:shown]
        ),
    )
    return page("Vérification de l'audit", verdict, summary, breaks, keys_table, chains)


def open_data_page(month: str, available: bool, error: str = "") -> str:
    """The agreement's indicators as open data: one month, CSV or Parquet, with its Table Schema."""
    form = tag(
        "form",
        join(
            [
                field("mois (AAAA-MM)", "periode", month, pattern="[0-9]{4}-[0-9]{2}", required="required"),
                " ",
                select("format", "format", [("csv", "CSV"), ("parquet", "Parquet")], "csv"),
                " ",
                Markup('<button type="submit">Télécharger</button>'),
            ]
        ),
        method="get",
        action="/donnees-ouvertes/archive",
    )
    out: list[object] = [
        tag(
            "p",
            "Les indicateurs de la convention, par région et pour la France, du mois choisi : le fichier et son "
            "schéma de table (schema.json), prêts à publier sur data.gouv.fr. Secret statistique : aucun effectif "
            "de 1 à 10 jeunes n'est publié, ni directement ni par différence entre totaux (docs/open-data.md).",
        )
    ]
    if error:
        out.append(tag("p", error, class_="refus"))
    out.append(form if available else tag("p", "Export indisponible ici.", class_="refus"))
    return page("Données ouvertes", *out)
