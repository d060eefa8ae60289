"""A record with every field of a contract filled (valid formats), to check what a view lets through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

SAMPLES = {
    "rome": "F1604",
    "formacode": "22403",
    "nsf": "233",
    "rncp": "RNCP320",
    "rs": "RS5063",
    "commune_insee": "37261",
    "code_postal": "37000",
    "departement": "37",
    "region": "24",
    "siret": "82422814200660",
    "uai": "0370001A",
    "ine": "123456789AB",
    "structure_ml": "37261S00",
    "pseudonyme": "b" * 64,
    "mois": "2026-03",
}


def full_record(schema: Mapping[str, Any]) -> dict[str, Any]:
    named: dict[str, Any] = {}
    return _value(schema, None, named)


def _value(avro: Any, field: Mapping[str, Any] | None, named: dict[str, Any]) -> Any:
    if isinstance(avro, list):
        return _value(next(b for b in avro if b != "null"), field, named)
    if isinstance(avro, str):
        if avro in named:
            return _value(named[avro], field, named)
        fmt = (field or {}).get("format")
        if avro == "string":
            return SAMPLES.get(str(fmt), "texte")
        if avro in ("int", "long"):
            return 3
        if avro in ("float", "double"):
            return 1.5
        if avro == "boolean":
            return True
        raise TypeError(avro)
    kind = avro["type"]
    if avro.get("name"):
        named[avro["name"]] = avro
        if avro.get("namespace"):
            named[f"{avro['namespace']}.{avro['name']}"] = avro
    if avro.get("logicalType") == "date":
        return dt.date(2026, 3, 2)
    if avro.get("logicalType") == "timestamp-millis":
        return dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    if kind == "record":
        return {f["name"]: _value(f["type"], f, named) for f in avro["fields"]}
    if kind == "enum":
        return avro["symbols"][0]
    if kind == "array":
        return [_value(avro["items"], field, named)]
    return _value(kind, field, named)
