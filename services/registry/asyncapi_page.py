"""The AsyncAPI document as one self-contained HTML page, in French: channels, messages, headers and payloads.

Rendered from the committed document itself (``contracts/asyncapi.yaml``), so the page shows what the document
says; an Avro payload's ``$ref`` to its ``.avsc`` file is read from the registry's catalogue. No script, no
stylesheet from elsewhere: the page works offline and behind any proxy. Every text is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from passerelle.broker.topics import Family
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.contracts.errors import ContractError
from passerelle.settings import Settings

JSON = Mapping[str, Any]
Row = tuple[str, str, str, str]
# A contract file as the document names it: <subject>/<version>.avsc.
_AVSC = re.compile(r"([^/]+)/([0-9]+)\.avsc$")
_ACTIONS = {"send": "Passerelle écrit", "receive": "Passerelle lit"}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1b1b1b;line-height:1.45}
h1{border-bottom:3px solid #000091}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}h3{margin-top:1.5rem}
code{background:#f3f3f3;padding:0 .2rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#eef}article{border-left:4px solid #000091;padding-left:1rem;margin:1.5rem 0}
.muted{color:#555}nav ul{columns:2}
"""


def committed_asyncapi(contracts_dir: Path | None = None) -> str | None:
    """The committed document (``<contracts_dir>/asyncapi.yaml``), or None when the deployment has none."""
    path = (contracts_dir or Settings().contracts_dir) / "asyncapi.yaml"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def catalogue_contracts(catalogue: Catalogue) -> Callable[[str], JSON | None]:
    """Reads a payload's ``$ref`` to ``…/<subject>/<version>.avsc`` from the catalogue, as the registry serves it."""

    def contract(ref: str) -> JSON | None:
        match = _AVSC.search(ref)
        if match is None:
            return None
        try:
            return catalogue.get(match.group(1), match.group(2)).schema
        except ContractError:
            return None

    return contract


class AsyncApiPage:
    """The document's text and its page, rendered once on first request."""

    def __init__(self, text: str | None, contract: Callable[[str], JSON | None]) -> None:
        self.text = text
        self._contract = contract
        self._html: str | None = None

    def html(self) -> str | None:
        if self.text is None:
            return None
        if self._html is None:
            self._html = render(yaml.safe_load(self.text), self._contract)
        return self._html


def render(spec: JSON, contract: Callable[[str], JSON | None]) -> str:
    """The whole page."""
    doc = _Document(spec, contract)
    info = spec.get("info", {})
    title = f"{info.get('title', 'AsyncAPI')} — description des échanges"
    body = [
        f"<h1>{_e(title)} <small class='muted'>version {_e(info.get('version', ''))}</small></h1>",
        _paragraphs(info.get("description", "")),
        "<p><a href='asyncapi.yaml'>Le document AsyncAPI (YAML)</a></p>",
        doc.contents(),
        doc.servers(),
        doc.trait_headers(),
        *doc.channels(),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='fr'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


class _Document:
    def __init__(self, spec: JSON, contract: Callable[[str], JSON | None]) -> None:
        self.spec = spec
        self.contract = contract
        # Where each shared message was shown first: a later channel links there (deliver.* reuses canon.*'s).
        self.shown: dict[str, str] = {}

    def resolve(self, node: Any) -> Any:
        """A node with its local ``$ref`` followed (``#/components/…``); other references stay as they are."""
        seen = 0
        while isinstance(node, Mapping) and str(node.get("$ref", "")).startswith("#/") and seen < 32:
            target: Any = self.spec
            for part in str(node["$ref"])[2:].split("/"):
                key = part.replace("~1", "/").replace("~0", "~")
                target = target.get(key, {}) if isinstance(target, Mapping) else {}
            node, seen = target, seen + 1
        return node

    def ordered_channels(self) -> list[tuple[str, JSON]]:
        # The way an event goes: in, canon, deliver, out, then the errors and the audit.
        rank = {family.value: i for i, family in enumerate(Family)}
        channels = self.spec.get("channels", {})
        return sorted(channels.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))

    def contents(self) -> str:
        items = [
            f"<li><a href='#canal-{_e(key)}'>{_e(channel.get('title', key))}</a> — "
            f"<code>{_e(channel.get('address', ''))}</code></li>"
            for key, channel in self.ordered_channels()
        ]
        return "<nav><h2>Canaux</h2><ul>" + "".join(items) + "</ul></nav>"

    def servers(self) -> str:
        rows = []
        for name, server in sorted(self.spec.get("servers", {}).items()):
            security = ", ".join(str(self.resolve(s).get("type", "")) for s in server.get("security", []))
            variables = "; ".join(
                f"{key} : {', '.join(map(str, v.get('enum', [])))}" for key, v in server.get("variables", {}).items()
            )
            host = f"{server.get('host', '')} ({variables})" if variables else str(server.get("host", ""))
            rows.append((name, host, f"{server.get('protocol', '')}, {security}", str(server.get("description", ""))))
        return (
            "<section id='serveurs'><h2>Serveurs</h2>"
            + _table(("serveur", "hôte", "protocole et sécurité", "description"), rows)
            + "</section>"
        )

    def trait_headers(self) -> str:
        parts = ["<section id='entetes'><h2>En-têtes communs</h2>"]
        for name, trait in sorted(self.spec.get("components", {}).get("messageTraits", {}).items()):
            parts.append(f"<h3>{_e(trait.get('title', name))}</h3>{_paragraphs(trait.get('summary', ''))}")
            parts.append(self.headers_table(trait.get("headers", {})))
        parts.append("</section>")
        return "".join(parts)

    def channels(self) -> Iterator[str]:
        for key, channel in self.ordered_channels():
            yield self.channel(key, channel)

    def channel(self, key: str, channel: JSON) -> str:
        parts = [
            (
                f"<section id='canal-{_e(key)}'><h2>{_e(channel.get('title', key))} — "
                f"<code>{_e(channel.get('address', ''))}</code></h2>"
            ),
            _paragraphs(channel.get("description", "")),
        ]
        for name, parameter in channel.get("parameters", {}).items():
            values = ", ".join(f"<code>{_e(v)}</code>" for v in self.resolve(parameter).get("enum", []))
            parts.append(f"<p><strong>{{{_e(name)}}}</strong> : {_e(parameter.get('description', ''))} {values}</p>")
        operations = [
            f"<li>{_e(_ACTIONS.get(op.get('action', ''), op.get('action', '')))} : {_e(op.get('title', key))}. "
            f"<span class='muted'>{_e(op.get('description', ''))}</span></li>"
            for op in (v for _, v in sorted(self.spec.get("operations", {}).items()))
            if op.get("channel", {}).get("$ref") == f"#/channels/{key}"
        ]
        if operations:
            parts.append("<h3>Opérations</h3><ul>" + "".join(operations) + "</ul>")
        for name, message in channel.get("messages", {}).items():
            ref = str(message.get("$ref", "")) if isinstance(message, Mapping) else ""
            if ref in self.shown:
                resolved = self.resolve(message)
                title = _e(resolved.get("title", name))
                parts.append(f"<p>Message <a href='#{_e(self.shown[ref])}'>{title}</a>, décrit plus haut.</p>")
                continue
            if ref:
                self.shown[ref] = f"message-{key}-{name}"
            parts.append(self.message(key, name, self.resolve(message)))
        parts.append("</section>")
        return "\n".join(parts)

    def message(self, channel: str, name: str, message: JSON) -> str:
        parts = [
            f"<article id='message-{_e(channel)}-{_e(name)}'><h3>{_e(message.get('title', name))}</h3>",
            f"<p class='muted'><code>{_e(message.get('name', name))}</code>"
            + (f" — {_e(message['contentType'])}" if message.get("contentType") else "")
            + "</p>",
            _summary(message),
            _paragraphs(message.get("description", "")),
        ]
        docs = message.get("externalDocs")
        if isinstance(docs, Mapping) and docs.get("url"):
            parts.append(f"<p><a href='{_e(docs['url'])}'>{_e(docs.get('description', docs['url']))}</a></p>")
        parts.append("<h4>En-têtes</h4>" + self.headers_table(self.merged_headers(message)))
        parts.append("<h4>Contenu</h4>" + self.payload(message.get("payload", {})))
        parts.append("</article>")
        return "\n".join(parts)

    def merged_headers(self, message: JSON) -> JSON:
        """The message's headers over its traits', as AsyncAPI merges them (JSON Merge Patch, the message last)."""
        merged: Any = {}
        for trait in message.get("traits", []):
            merged = _merge(merged, self.resolve(trait).get("headers", {}))
        merged = _merge(merged, self.resolve(message.get("headers", {})))
        return merged if isinstance(merged, Mapping) else {}

    def headers_table(self, headers: JSON) -> str:
        required = set(headers.get("required", []))
        rows = [
            (key, _json_type(self.resolve(s), pattern=True), "oui" if key in required else "", _doc(self.resolve(s)))
            for key, s in headers.get("properties", {}).items()
        ]
        return _table(("en-tête", "valeur", "toujours", "description"), rows)

    def payload(self, payload: JSON) -> str:
        if "schemaFormat" in payload and "avro" in str(payload["schemaFormat"]):
            return self.avro_payload(payload)
        schema = self.resolve(payload.get("schema", payload) if "schemaFormat" in payload else payload)
        if schema.get("type") == "string" or not (schema.get("properties") or schema.get("oneOf")):
            kind = "Octets" if schema.get("format") == "binary" else "Texte"
            return _paragraphs(f"{kind}. {schema.get('description', '')}")
        intro = _paragraphs(schema.get("description", ""))
        if "oneOf" in schema:
            intro += "<p>Un objet, ou un tableau de tels objets.</p>"
        rows = list(_json_rows(self, schema, ""))
        return intro + _table(("champ", "type", "requis", "description"), rows)

    def avro_payload(self, payload: JSON) -> str:
        schema = payload.get("schema", {})
        ref = str(schema.get("$ref", "")) if isinstance(schema, Mapping) else ""
        avro = self.contract(ref) if ref else schema
        head = f"<p>Avro (<code>{_e(payload['schemaFormat'])}</code>)"
        head += f", contrat <code>{_e(ref)}</code>.</p>" if ref else ".</p>"
        if not isinstance(avro, Mapping):
            return head + "<p>Contrat introuvable dans le registre.</p>"
        rows = [(name, kind, doc) for name, kind, doc in _AvroRows(avro).rows()]
        return head + _paragraphs(avro.get("doc", "")) + _table(("champ", "type", "description"), rows)


# ---------------------------------------------------------------- JSON Schema


def _json_rows(doc: _Document, schema: JSON, prefix: str) -> Iterator[Row]:
    schema = doc.resolve(schema)
    if "oneOf" in schema:
        for branch in schema["oneOf"]:
            branch = doc.resolve(branch)
            if branch.get("type") == "object":
                yield from _json_rows(doc, branch, prefix)
                return
        return
    required = set(schema.get("required", []))
    for key, child in schema.get("properties", {}).items():
        child = doc.resolve(child)
        path = f"{prefix}{key}"
        items = doc.resolve(child.get("items", {}))
        shown = {**child, "items": items} if "items" in child else child
        yield path, _json_type(shown), "oui" if key in required else "", _doc(child)
        if child.get("type") == "object":
            yield from _json_rows(doc, child, path + ".")
        elif items.get("type") == "object":
            yield from _json_rows(doc, items, path + "[].")


def _json_type(schema: JSON, pattern: bool = False) -> str:
    """A short label: the constant, the values, or the type and its format (and its pattern, when asked)."""
    if "const" in schema:
        return f"= {schema['const']}"
    if "enum" in schema:
        return "un de : " + ", ".join(map(str, schema["enum"]))
    kind = schema.get("type", "")
    text = " ou ".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    if schema.get("format"):
        text += f" ({schema['format']})"
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        text += f" de {_json_type(schema['items'])}"
    if pattern and schema.get("pattern"):
        text += f", motif {schema['pattern']}"
    return text or "—"


def _summary(message: JSON) -> str:
    summary = str(message.get("summary", ""))
    # A summary that is the description's first sentence would be read twice.
    return "" if str(message.get("description", "")).startswith(summary) else _paragraphs(summary)


def _doc(schema: JSON) -> str:
    return str(schema.get("description", ""))


def _merge(origin: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return patch
    result = dict(origin) if isinstance(origin, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


# ---------------------------------------------------------------- Avro


_AVRO_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class _AvroRows:
    """An Avro record's fields as rows (dotted name, type, doc), nested records and named types unfolded."""

    def __init__(self, schema: JSON) -> None:
        self.schema = schema
        self.named: dict[str, tuple[JSON, str]] = {}

    def rows(self) -> Iterator[tuple[str, str, str]]:
        yield from self._fields(self.schema, str(self.schema.get("namespace", "")), "", 0)

    def _fields(self, record: JSON, namespace: str, prefix: str, depth: int) -> Iterator[tuple[str, str, str]]:
        self._remember(record, namespace)
        for field in record.get("fields", []):
            name = f"{prefix}{field['name']}"
            label, inner, inner_ns = self._type(field["type"], namespace)
            yield name, label, _avro_doc(field)
            if inner is not None and depth < 8:  # a recursive record is shown to a bounded depth
                below = name + ("[]." if label.startswith("tableau") else ".")
                yield from self._fields(inner, inner_ns, below, depth + 1)

    def _remember(self, avro: JSON, namespace: str) -> None:
        if avro.get("type") in ("record", "enum", "fixed") and "name" in avro:
            own = str(avro.get("namespace", namespace))
            self.named[f"{own}.{avro['name']}"] = (avro, own)
            self.named[str(avro["name"])] = (avro, own)

    def _type(self, avro: Any, namespace: str) -> tuple[str, JSON | None, str]:
        """A type's label, and the record to unfold below it (if any)."""
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            labels = [self._type(b, namespace) for b in branches]
            optional = ", facultatif" if len(branches) < len(avro) else ""
            record = next(((r, ns) for _, r, ns in labels if r is not None), (None, namespace))
            return " | ".join(label for label, _, _ in labels) + optional, record[0], record[1]
        if isinstance(avro, str):
            if avro in _AVRO_PRIMITIVES:
                return avro, None, namespace
            found = self.named.get(f"{namespace}.{avro}") or self.named.get(avro)
            if found is None:
                return avro, None, namespace
            return self._type(found[0], found[1])
        return self._complex(avro, namespace)

    def _complex(self, avro: JSON, namespace: str) -> tuple[str, JSON | None, str]:
        self._remember(avro, namespace)
        own = str(avro.get("namespace", namespace))
        kind, logical = avro.get("type"), avro.get("logicalType")
        if logical:
            return f"{kind} ({logical})", None, own
        if kind == "enum":
            return "enum : " + ", ".join(map(str, avro.get("symbols", []))), None, own
        if kind == "array":
            label, record, ns = self._type(avro.get("items"), own)
            return f"tableau de {label}", record, ns
        if kind == "map":
            label, _, _ = self._type(avro.get("values"), own)
            return f"dictionnaire de {label}", None, own
        if kind == "record":
            return f"record {avro.get('name', '')}", avro, own
        return self._type(kind, own)


def _avro_doc(field: JSON) -> str:
    text = str(field.get("doc", ""))
    if field.get("pii"):
        text += f" [donnée personnelle : {field['pii']}]"
    if field.get("texte_libre"):
        text += " [texte libre]"
    return text.strip()


# ---------------------------------------------------------------- HTML


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _paragraphs(text: Any) -> str:
    return "".join(f"<p>{_e(part).replace(chr(10), '<br>')}</p>" for part in str(text).split("\n\n") if part.strip())


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return "<p class='muted'>Aucun.</p>"
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _cell(column: int, text: str) -> str:
    # The first column names a field or a header: shown as code.
    return f"<td><code>{_e(text)}</code></td>" if column == 0 else f"<td>{_e(text)}</td>"
