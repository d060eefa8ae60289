"""Small HTML builders: every value goes through ``esc`` unless it is ``Markup`` built here from escaped parts."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b}
header{background:#000091;color:#fff;padding:.6em 1.2em}
header a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em 1.2em}
table{border-collapse:collapse;margin:.6em 0 1.4em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eee}
tr.silencieux td{background:#fde2e2;color:#8b0000;font-weight:bold}
.silencieux{color:#8b0000;font-weight:bold}
pre{background:#f6f6f6;padding:.8em;overflow:auto;white-space:pre-wrap}
.avertissement{color:#8b0000}
@media print{header{display:none}}
"""
NAV = (("/", "Flux"), ("/dlq", "Lettres mortes"), ("/partenaires", "Partenaires et vues"))


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
        f"<body><header>{nav}</header><main>{tag('h1', title)}{join(content)}</main></body></html>"
    )
