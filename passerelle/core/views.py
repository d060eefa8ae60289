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


# A plan maps each field to True (keep), Withheld (replace by default), or the plan of a nested record.
Plan = Mapping[str, Union[bool, Withheld, "Plan"]]


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
        plan: dict[str, bool | Withheld | Plan] = {}
        for field in avro["fields"]:
            pii = field.get("pii")
            allowed = (pii is None or pii in categories) and (free_text or not field.get("texte_libre"))
            nested = _record_of(field["type"], named)
            if not allowed:
                plan[field["name"]] = Withheld(field.get("default"))
            elif nested is not None:
                plan[field["name"]] = record_plan(nested)
            else:
                plan[field["name"]] = True
        return plan

    return record_plan(schema)


def _record_of(avro: Any, named: dict[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if isinstance(avro, list):
        for branch in avro:
            found = _record_of(branch, named)
            if found is not None:
                return found
        return None
    if isinstance(avro, str):
        candidate = named.get(avro)
        return candidate if candidate and candidate.get("type") == "record" else None
    if isinstance(avro, Mapping) and avro.get("type") == "record":
        return avro
    return None


def apply_plan(plan: Plan, record: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """(minimised record, dotted paths delivered with a value)."""
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
        elif isinstance(value, Mapping):
            out[name], inner = apply_plan(rule, value, path + ".")
            delivered += inner
        else:
            out[name] = value
    return out, delivered


def _withholds(plan: Plan) -> bool:
    return any(isinstance(rule, Withheld) or (isinstance(rule, Mapping) and _withholds(rule)) for rule in plan.values())


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
