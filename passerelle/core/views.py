"""Data-protection views: each recipient gets only the fields its profile allows.

A view is compiled once per (contract version, allowed categories, free
text) into a small plan, so applying it to tens of thousands of events per
second is a dictionary walk, not a schema walk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.partners import Reception


@dataclass(frozen=True)
class Withheld:
    """A field outside the view: delivered as its contract default (null, empty list, INCONNU)."""

    default: Any


@dataclass(frozen=True)
class Items:
    """An array whose items the view minimises, each like a record at that place (or an inner array)."""

    rule: Plan | Items


# A plan maps each field to True (keep), Withheld (replace by default), the plan of a nested record, or
# Items for an array of records with something withheld inside (one withholding nothing stays True).
Plan = Mapping[str, Union[bool, Withheld, Items, "Plan"]]


@dataclass(frozen=True)
class _Key:
    subject: str
    version: int
    categories: frozenset[str]
    free_text: bool


_ASKED_AT_MOST = 4096
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def compile_plan(schema: Mapping[str, Any], categories: frozenset[str], free_text: bool) -> Plan:
    named = _named_types(schema)
    # One plan per record full name: every reference shares it, and a recursive record refers to itself.
    plans: dict[str, dict[str, bool | Withheld | Items | Plan]] = {}

    def record_plan(avro: Mapping[str, Any], namespace: str) -> Plan:
        full, own = _full_name(avro, namespace)
        if full in plans:
            return plans[full]
        plan = plans[full] = {}
        for field in avro["fields"]:
            pii = field.get("pii")
            allowed = (pii is None or pii in categories) and (free_text or not field.get("texte_libre"))
            plan[field["name"]] = type_rule(field["type"], own) if allowed else Withheld(field.get("default"))
        return plan

    def type_rule(avro: Any, namespace: str) -> bool | Items | Plan:
        if isinstance(avro, list):
            # A union with null (or other plain branches): its record or array of records decides.
            for branch in avro:
                rule = type_rule(branch, namespace)
                if rule is not True:
                    return rule
            return True
        if isinstance(avro, str):
            if avro in _PRIMITIVES:
                return True
            avro, namespace = _resolve(avro, namespace, named)
        if not isinstance(avro, Mapping):
            return True
        kind = avro.get("type")
        if kind == "record":
            return record_plan(avro, namespace)
        if kind == "array":
            items = type_rule(avro["items"], namespace)
            return True if isinstance(items, bool) else Items(items)
        if kind in ("map", "enum", "fixed"):
            return True
        return type_rule(kind, namespace)  # {"type": "string"}, {"type": "t.Personne"}…

    root = record_plan(schema, "")
    # Only now are the plans whole (a recursive one was not while its fields were compiled): an array whose
    # items withhold nothing goes whole, without a walk per item.
    for plan in plans.values():
        for name, rule in plan.items():
            if isinstance(rule, Items) and not _withholds_rule(rule, set()):
                plan[name] = True
    return root


def _full_name(avro: Mapping[str, Any], enclosing: str) -> tuple[str, str]:
    """(full name, namespace it gives the types defined inside it), by Avro's rules."""
    name = str(avro["name"])
    if "." in name:
        return name, name.rpartition(".")[0]
    namespace = avro.get("namespace")
    namespace = enclosing if namespace is None else str(namespace)
    return (f"{namespace}.{name}" if namespace else name), namespace


def _named_types(schema: Any) -> dict[str, tuple[Mapping[str, Any], str]]:
    """Every named type of the schema, wherever it is defined (even under a field a view withholds), by full
    name, with the namespace enclosing its definition."""
    found: dict[str, tuple[Mapping[str, Any], str]] = {}

    def walk(avro: Any, namespace: str) -> None:
        if isinstance(avro, list):
            for branch in avro:
                walk(branch, namespace)
            return
        if not isinstance(avro, Mapping):
            return
        kind = avro.get("type")
        if kind in ("record", "enum", "fixed"):
            full, own = _full_name(avro, namespace)
            found[full] = (avro, namespace)
            for field in avro.get("fields", ()):
                walk(field["type"], own)
        elif kind == "array":
            walk(avro.get("items"), namespace)
        elif kind == "map":
            walk(avro.get("values"), namespace)
        else:
            walk(kind, namespace)

    walk(schema, "")
    return found


def _resolve(
    reference: str, namespace: str, named: Mapping[str, tuple[Mapping[str, Any], str]]
) -> tuple[Mapping[str, Any], str]:
    """The definition a name refers to: in the enclosing namespace unless dotted, else (as Java Avro) in the
    null one. An unknown name fails: a view must not guess what it would let through."""
    full = reference if "." in reference or not namespace else f"{namespace}.{reference}"
    found = named.get(full) or named.get(reference)
    if found is None:
        raise ValueError(f"type nommé inconnu dans le contrat : {reference}")
    return found


def apply_plan(plan: Plan, record: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """(minimised record, dotted paths delivered with a value; ``name[].field`` inside minimised arrays)."""
    out: dict[str, Any] = {}
    delivered: list[str] = []
    for name, rule in plan.items():
        value = record.get(name)
        path = f"{prefix}{name}"
        if isinstance(rule, Withheld):
            out[name] = rule.default
        elif isinstance(rule, bool):
            out[name] = value
            if value is not None and value != []:
                delivered.append(path)
        elif isinstance(rule, Items):
            if isinstance(value, list):
                out[name], inner = _apply_items(rule, value, path)
                delivered += inner
            else:
                out[name] = value
        elif isinstance(value, Mapping):
            out[name], inner = apply_plan(rule, value, path + ".")
            delivered += inner
        else:
            out[name] = value
    return out, delivered


def _apply_items(items: Items, values: list[Any], path: str) -> tuple[list[Any], list[str]]:
    out: list[Any] = []
    # Each path once, however many items carry it.
    delivered: dict[str, None] = {}
    for value in values:
        kept: Any
        if isinstance(items.rule, Items) and isinstance(value, list):
            kept, inner = _apply_items(items.rule, value, path + "[]")
        elif isinstance(items.rule, Mapping) and isinstance(value, Mapping):
            kept, inner = apply_plan(items.rule, value, path + "[].")
        else:
            kept, inner = value, []
        out.append(kept)
        delivered.update(dict.fromkeys(inner))
    return out, list(delivered)


Applier = Callable[[Mapping[str, Any], str], tuple[dict[str, Any], list[str]]]


def compile_applier(plan: Plan) -> Applier:
    """``apply_plan`` for one plan, written out as Python once: each field a few lines, its rule already decided,
    where ``apply_plan`` asks each field's rule its type on every record (a third of the router's view time).
    A nested record's plan becomes a function of its own, called by name, so a recursive record's plan calls
    itself; arrays of records go through ``_apply_items`` as before. Tests hold it to ``apply_plan``."""
    names: dict[int, str] = {}
    namespace: dict[str, Any] = {"Mapping": Mapping, "apply_items": _apply_items}
    source: list[str] = []

    def function(rules: Plan) -> str:
        name = names.get(id(rules))
        if name is not None:
            return name
        name = names[id(rules)] = f"apply_{len(names)}"
        body = [f"def {name}(record, prefix):", "    out = {}", "    delivered = []"]
        for index, (field, rule) in enumerate(rules.items()):
            key = repr(field)
            if isinstance(rule, Withheld):
                namespace[f"default_{name}_{index}"] = rule.default  # the contract's own object, as apply_plan
                body.append(f"    out[{key}] = default_{name}_{index}")
                continue
            body.append(f"    value = record.get({key})")
            if isinstance(rule, bool):
                body += [
                    f"    out[{key}] = value",
                    "    if value is not None and value != []:",
                    f"        delivered.append(prefix + {key})",
                ]
            elif isinstance(rule, Items):
                namespace[f"items_{name}_{index}"] = rule
                body += [
                    "    if isinstance(value, list):",
                    f"        out[{key}], inner = apply_items(items_{name}_{index}, value, prefix + {key})",
                    "        delivered += inner",
                    "    else:",
                    f"        out[{key}] = value",
                ]
            else:
                nested = function(rule)
                body += [
                    "    if isinstance(value, dict) or isinstance(value, Mapping):",
                    f"        out[{key}], inner = {nested}(value, prefix + {key} + '.')",
                    "        delivered += inner",
                    "    else:",
                    f"        out[{key}] = value",
                ]
        body.append("    return out, delivered")
        source.extend(body)
        return name

    root = function(plan)
    code = compile("\n".join(source), "<view plan>", "exec")
    exec(code, namespace)  # noqa: S102 - source built from the plan's field names, quoted by repr
    applier: Applier = namespace[root]
    return applier


def _withholds_rule(rule: bool | Withheld | Items | Plan, seen: set[int]) -> bool:
    if isinstance(rule, Withheld):
        return True
    if isinstance(rule, Items):
        return _withholds_rule(rule.rule, seen)
    return isinstance(rule, Mapping) and _withholds(rule, seen)


def _withholds(plan: Plan, seen: set[int]) -> bool:
    """Whether any Withheld is reachable from the plan; ``seen`` stops at a recursive record's plan."""
    if id(plan) in seen:
        return False
    seen.add(id(plan))
    return any(_withholds_rule(rule, seen) for rule in plan.values())


class ViewPlans:
    """Compiled views, cached per contract version and recipient view."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        # Each plan with whether it withholds anything and its applier, all asked on every delivery.
        self._plans: dict[_Key, _Compiled] = {}
        # The same, found by the identity of the (long-lived) contract version and reception asking: building the
        # key above took longer than applying some plans. The objects are kept, so an id is never reused.
        self._asked: dict[tuple[int, int], tuple[SchemaVersion, Reception, _Compiled]] = {}

    def _compiled(self, schema: SchemaVersion, reception: Reception) -> _Compiled:
        asked = self._asked.get((id(schema), id(reception)))
        if asked is not None:
            return asked[2]
        key = _Key(schema.subject, schema.version, frozenset(reception.view), reception.free_text)
        compiled = self._plans.get(key)
        if compiled is None:
            plan = compile_plan(schema.schema, key.categories, key.free_text)
            compiled = self._plans[key] = _Compiled(plan, _withholds(plan, set()), compile_applier(plan))
        if len(self._asked) >= _ASKED_AT_MOST:  # profiles or a catalogue loaded again: start afresh
            self._asked.clear()
        self._asked[(id(schema), id(reception))] = (schema, reception, compiled)
        return compiled

    def plan(self, schema: SchemaVersion, reception: Reception) -> Plan:
        return self._compiled(schema, reception).plan

    def withholds_nothing(self, schema: SchemaVersion, reception: Reception) -> bool:
        """True when this recipient sees every field: its delivery can be the canonical bytes as they are."""
        return not self._compiled(schema, reception).withholds

    def apply(
        self, schema: SchemaVersion, record: Mapping[str, Any], reception: Reception
    ) -> tuple[dict[str, Any], list[str]]:
        minimised, delivered = self._compiled(schema, reception).apply(record, "")
        return minimised, sorted(delivered)


@dataclass(frozen=True, slots=True)
class _Compiled:
    plan: Plan
    withholds: bool
    apply: Applier
