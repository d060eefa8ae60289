"""The exact fields a recipient receives: its profile's view over the contract's ``pii`` attributes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Reception
from passerelle.core.views import Items, Plan, Withheld, compile_plan


@dataclass(frozen=True)
class ReceivedFields:
    event: str
    version: int
    delivered: tuple[str, ...]
    withheld: tuple[str, ...]


def _walk(plan: Plan, prefix: str, seen: frozenset[int]) -> tuple[list[str], list[str]]:
    delivered: list[str] = []
    withheld: list[str] = []
    for name, rule in plan.items():
        path = f"{prefix}{name}"
        if isinstance(rule, Withheld):
            withheld.append(path)
            continue
        while isinstance(rule, Items):  # an array of records: its items' fields, under « [] »
            rule, path = rule.rule, path + "[]"
        if isinstance(rule, Mapping) and id(rule) not in seen:  # a recursive record is listed once
            inner = _walk(rule, path + ".", seen | {id(rule)})
            delivered += inner[0]
            withheld += inner[1]
        else:
            delivered.append(path)
    return delivered, withheld


def received_fields(catalogue: Catalogue, event: str, reception: Reception) -> ReceivedFields:
    """What the router delivers of ``event``'s latest contract to a recipient with this reception."""
    schema = catalogue.latest(event)
    plan = compile_plan(schema.schema, frozenset(reception.view), reception.free_text)
    delivered, withheld = _walk(plan, "", frozenset({id(plan)}))
    return ReceivedFields(event, schema.version, tuple(delivered), tuple(withheld))
