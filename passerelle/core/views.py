"""Data-protection views: each recipient gets only the fields its profile allows.

A view is compiled once per (contract version, allowed categories, free
text) into a small plan, so applying it to tens of thousands of events per
second is a dictionary walk, not a schema walk.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def compile_plan(schema: Mapping[str, Any], categories: frozenset[str], free_text: bool) -> Plan:
    named: dict[str, Mapping[str, Any]] = {}

    def record_plan(avro: Mapping[str, Any]) -> Plan:
        if avro.get("name"):
            named[avro["name"]] = avro
            if avro.get("namespace"):
                named[f"{avro['namespace']}.{avro['name']}"] = avro
        plan: dict[str, bool | Withheld | Items | Plan] = {}
        for field in avro["fields"]:
            pii = field.get("pii")
            allowed = (pii is None or pii in categories) and (free_text or not field.get("texte_libre"))
            plan[field["name"]] = type_rule(field["type"]) if allowed else Withheld(field.get("default"))
        return plan

    def type_rule(avro: Any) -> bool | Items | Plan:
        if isinstance(avro, list):
            # A union with null (or other plain branches): its record or array of records decides.
            for branch in avro:
                rule = type_rule(branch)
                if rule is not True:
                    return rule
            return True
        if isinstance(avro, str):
            avro = named.get(avro)
        if not isinstance(avro, Mapping):
            return True
        if avro.get("type") == "record":
            return record_plan(avro)
        if avro.get("type") == "array":
            items = type_rule(avro["items"])
            # Items withholding nothing: the array goes whole, without a walk per item.
            return Items(items) if not isinstance(items, bool) and _withholds_rule(items) else True
        return True

    return record_plan(schema)


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


def _withholds_rule(rule: bool | Withheld | Items | Plan) -> bool:
    if isinstance(rule, Withheld):
        return True
    if isinstance(rule, Items):
        return _withholds_rule(rule.rule)
    return isinstance(rule, Mapping) and _withholds(rule)


def _withholds(plan: Plan) -> bool:
    return any(_withholds_rule(rule) for rule in plan.values())


class ViewPlans:
    """Compiled views, cached per contract version and recipient view."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._plans: dict[_Key, Plan] = {}

    def plan(self, schema: SchemaVersion, reception: Reception) -> Plan:
        key = _Key(schema.subject, schema.version, frozenset(reception.view), reception.free_text)
        if key not in self._plans:
            self._plans[key] = compile_plan(schema.schema, key.categories, key.free_text)
        return self._plans[key]

    def withholds_nothing(self, schema: SchemaVersion, reception: Reception) -> bool:
        """True when this recipient sees every field: its delivery can be the canonical bytes as they are."""
        return not _withholds(self.plan(schema, reception))

    def apply(
        self, schema: SchemaVersion, record: Mapping[str, Any], reception: Reception
    ) -> tuple[dict[str, Any], list[str]]:
        minimised, delivered = apply_plan(self.plan(schema, reception), record)
        return minimised, sorted(delivered)
