"""Small HTML builders: every value goes through ``esc`` unless it is ``Markup`` built here from escaped parts."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b}
header{background:#000091;color:#fff;padding:.6em 1.2em}
header a{color:#fff;margin-right:1.2em;text-decoration:none}
header .session{float:right}
header .session form{display:inline}
header .session button{background:none;border:1px solid #fff;color:#fff;cursor:pointer}
a.bouton{display:inline-block;background:#000091;color:#fff;padding:.4em .9em;text-decoration:none}
.ok{color:#0a6b2d;font-weight:bold}
.refus{color:#8b0000;font-weight:bold}
textarea{width:100%;font-family:monospace}
form.filtres label{margin-right:.8em}
main{padding:1em 1.2em}
table{border-collapse:collapse;margin:.6em 0 1.4em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
td{overflow-wrap:break-word}
main{overflow-x:auto}
tr.pii td:nth-child(4){font-weight:bold}
th{background:#eee}
tr.silencieux td{background:#fde2e2;color:#8b0000;font-weight:bold}
.silencieux{color:#8b0000;font-weight:bold}
pre{background:#f6f6f6;padding:.8em;overflow:auto;white-space:pre-wrap}
.avertissement{color:#8b0000}
@media print{header{display:none}}
"""
NAV = (
    ("/", "Flux"),
    ("/dlq", "Lettres mortes"),
    ("/rejeux", "Rejeux"),
    ("/contrats", "Contrats"),
    ("/partenaires", "Partenaires et vues"),
    ("/audit", "Audit"),
    ("/donnees-ouvertes", "Données ouvertes"),
)
# Where the app puts who is logged in and the logout form: the pages know nothing of sessions.
SESSION_SLOT = "<!--session-->"


class Markup(str):
    """Text already safe to put in a page."""


def esc(value: object) -> Markup:
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[object]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def tag(element: str, content: object = "", /, **attributes: str) -> Markup:
    # Python names: « class_ » for class; values escaped like the content.
    attrs = "".join(f' {k.rstrip("_")}="{esc(v)}"' for k, v in attributes.items() if v)
    return Markup(f"<{element}{attrs}>{esc(content)}</{element}>")


def hidden(name: str, value: object) -> Markup:
    return Markup(f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">')


def field(label: str, name: str, value: object = "", kind: str = "text", **attributes: str) -> Markup:
    extra = "".join(f' {k.rstrip("_")}="{esc(v)}"' for k, v in attributes.items() if v)
    control = Markup(f'<input type="{esc(kind)}" name="{esc(name)}" value="{esc(value)}"{extra}>')
    return tag("label", join([label, " ", control]))


def select(label: str, name: str, options: Sequence[tuple[str, str]], chosen: str) -> Markup:
    items = join(
        tag("option", text, value=value, selected="selected" if value == chosen else "") for value, text in options
    )
    return tag("label", join([label, " ", tag("select", items, name=name)]))


def post_form(action: str, csrf: str, *content: object, **attributes: str) -> Markup:
    """A form that changes something: always with the session's CSRF token."""
    return tag("form", join([hidden("csrf", csrf), *content]), method="post", action=action, **attributes)


def link(href: str, text: object) -> Markup:
    return tag("a", text, href=href)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], classes: Iterable[str] | None = None) -> Markup:
    head = tag("tr", join(tag("th", h) for h in headers))
    row_classes = list(classes) if classes is not None else None
    body = [
        tag("tr", join(tag("td", cell) for cell in row), class_=row_classes[i] if row_classes else "")
        for i, row in enumerate(rows)
    ]
    return tag("table", join([tag("thead", head), tag("tbody", join(body))]))


def page(title: str, *content: object) -> str:
    nav = join(link(href, text) for href, text in NAV)
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{esc(title)} — Passerelle</title><style>{STYLE}</style></head>"
        f"<body><header>{nav}{SESSION_SLOT}</header><main>{tag('h1', title)}{join(content)}</main></body></html>"
    )
