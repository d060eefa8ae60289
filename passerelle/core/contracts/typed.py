"""The typed layer: a pydantic model per contract version, built from the Avro schema itself.

The ``.avsc`` file stays the single source of truth: field types, enums,
defaults and the ``format`` attribute of code fields become pydantic
validators, and every violation comes back as a :class:`~passerelle.core.problems.Problem` in plain
French. Values of personal fields (``pii``) are never echoed in an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    create_model,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError, SchemaValidator, core_schema

from passerelle.core.contracts.catalogue import Catalogue, SchemaVersion
from passerelle.core.contracts.errors import ValidationFailed
from passerelle.core.contracts.formats import FORMATS, NIVEAUX_2019, Format
from passerelle.core.privacy import shown_value
from passerelle.core.problems import Problem

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MASKED = "(valeur masquée : donnée personnelle)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _anchored(fmt: Format) -> str:
    """The format as a whole-value pattern for pydantic-core's own regex engine (no call back into Python), its
    group named after the format: two formats may share a pattern (code postal, FORMACODE), not an error."""
    return f"^(?P<{fmt.name}>{fmt.pattern.pattern})$"


# A failed pattern names its format again, so the error says what is expected in French.
_BY_PATTERN = {_anchored(fmt): fmt for fmt in FORMATS.values()}


def _niveau_check(value: int) -> int:
    if value not in NIVEAUX_2019:
        raise PydanticCustomError("format_niveau_2019", "niveau invalide, attendu : {attendu}", {"attendu": "1 à 8"})
    return value


class _ModelBuilder:
    """Turns one Avro schema into pydantic types, remembering named types and personal fields."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.named: dict[str, Any] = {}
        self.pii_paths: set[str] = set()

    def type_of(self, avro: Any, path: str, field: Mapping[str, Any] | None = None) -> Any:
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            inner = self.type_of(branches[0], path, field) if len(branches) == 1 else Any
            return inner | None if "null" in avro else inner
        if isinstance(avro, str):
            return self.named[avro] if avro in self.named else self._primitive(avro, {}, field)
        kind = avro["type"]
        if kind == "record":
            return self._record(avro, path)
        if kind == "enum":
            enum_type = Literal[tuple(avro["symbols"])]  # type: ignore[valid-type]
            self._remember(avro, enum_type)
            return enum_type
        if kind == "array":
            return list[self.type_of(avro["items"], path + "[]", field)]  # type: ignore[misc]
        if kind == "map":
            return dict[str, self.type_of(avro["values"], path + "{}", field)]  # type: ignore[misc]
        return self._primitive(kind, avro, field)

    def _primitive(self, kind: str, avro: Mapping[str, Any], field: Mapping[str, Any] | None) -> Any:
        logical = avro.get("logicalType")
        fmt = (field or {}).get("format")
        if logical == "date":
            return dt.date
        if logical in ("timestamp-millis", "timestamp-micros"):
            return dt.datetime
        if kind == "string":
            if fmt in FORMATS:
                return Annotated[StrictStr, StringConstraints(pattern=_anchored(FORMATS[fmt]))]
            return StrictStr
        if kind in ("int", "long"):
            low, high = INT32 if kind == "int" else INT64
            base = Annotated[StrictInt, Field(ge=low, le=high)]
            return Annotated[base, AfterValidator(_niveau_check)] if fmt == "niveau_2019" else base
        if kind in ("float", "double"):
            return Annotated[float, Field(strict=True)]
        if kind == "boolean":
            return StrictBool
        if kind == "bytes":
            return bytes
        raise TypeError(f"type Avro non pris en charge dans {self.subject}: {kind}")

    def _record(self, avro: Mapping[str, Any], path: str) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        for field in avro["fields"]:
            field_path = f"{path}.{field['name']}" if path else field["name"]
            if field.get("pii"):
                self.pii_paths.add(field_path)
            annotation = self.type_of(field["type"], field_path, field)
            default = field.get("default", ...)
            if isinstance(default, list):
                fields[field["name"]] = (annotation, Field(default_factory=list))
            else:
                fields[field["name"]] = (annotation, default)
        model = create_model(avro["name"], __base__=_Strict, **fields)
        self._remember(avro, model)
        return model

    def _remember(self, avro: Mapping[str, Any], built: Any) -> None:
        namespace = avro.get("namespace")
        self.named[avro["name"]] = built
        if namespace:
            self.named[f"{namespace}.{avro['name']}"] = built


class TypedContract:
    """One contract version: validate a Python or JSON instance, get back an Avro-ready record."""

    def __init__(self, schema: SchemaVersion) -> None:
        self.schema = schema
        builder = _ModelBuilder(schema.subject)
        self.model: type[BaseModel] = builder.type_of(schema.schema, "")
        self.pii_paths = frozenset(builder.pii_paths)
        # The model's own rules, validated straight into dicts: no model object built and dumped again.
        self._validator = SchemaValidator(as_dicts(self.model.__pydantic_core_schema__))

    def validate(self, instance: Any) -> dict[str, Any]:
        try:
            return self._validator.validate_python(instance)  # type: ignore[no-any-return]
        except PydanticValidationError as exc:
            raise self._failure(exc) from None

    def validate_json(self, raw: bytes | str) -> dict[str, Any]:
        try:
            return self._validator.validate_json(raw)  # type: ignore[no-any-return]
        except PydanticValidationError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: PydanticValidationError) -> ValidationFailed:
        errors = [self._field_error(e) for e in exc.errors(include_url=False)]
        return ValidationFailed(self.schema.subject, self.schema.version, errors)

    def _field_error(self, err: Any) -> Problem:
        loc = [part for part in err["loc"] if not _is_union_tag(part)]
        path = _render_path(loc)
        personal = _strip_indices(loc) in self.pii_paths
        rule, message, expected = french(err)
        if err["type"] == "json_invalid":
            path = "$"
        received = None if err["type"] == "missing" else (MASKED if personal else _show(err.get("input")))
        return Problem("validation", message, path or "$", rule, expected, received)


def as_dicts(schema: Any) -> Any:
    """A pydantic-core schema whose models (records) become typed dicts with the same fields, rules, defaults and
    extra-field refusal: the errors are the model's, the result the dict ``model_dump`` would have given."""
    if isinstance(schema, list):
        return [as_dicts(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") != "model":
        return {key: as_dicts(value) for key, value in schema.items()}
    inner = schema["schema"]
    if inner.get("type") != "model-fields" or inner.get("computed_fields"):
        raise TypeError(f"modèle pydantic inattendu : {inner.get('type')}")
    fields = {}
    for name, field in inner["fields"].items():
        field_schema = as_dicts(field["schema"])
        fields[name] = core_schema.typed_dict_field(field_schema, required=field_schema.get("type") != "default")
    return core_schema.typed_dict_schema(
        fields, extra_behavior=inner.get("extra_behavior", "forbid"), total=True, ref=schema.get("ref")
    )


class TypedContracts:
    """The typed layer over a whole catalogue, built lazily, one model per contract version."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._built: dict[tuple[str, int], TypedContract] = {}

    def contract(self, subject: str, version: int | str = "latest") -> TypedContract:
        schema = self.catalogue.get(subject, version)
        key = (schema.subject, schema.version)
        if key not in self._built:
            self._built[key] = TypedContract(schema)
        return self._built[key]

    def validate(self, subject: str, instance: Any, version: int | str = "latest") -> dict[str, Any]:
        return self.contract(subject, version).validate(instance)

    def validate_json(self, subject: str, raw: bytes | str, version: int | str = "latest") -> dict[str, Any]:
        return self.contract(subject, version).validate_json(raw)


_MESSAGES: dict[str, tuple[str, str | None]] = {
    "missing": ("obligatoire", "champ obligatoire absent"),
    "extra_forbidden": ("champ_inconnu", "champ inconnu du contrat"),
    "string_type": ("type", "texte attendu"),
    "int_type": ("type", "nombre entier attendu"),
    "int_from_float": ("type", "nombre entier attendu"),
    "bool_type": ("type", "booléen attendu (true ou false)"),
    "float_type": ("type", "nombre attendu"),
    "list_type": ("type", "liste attendue"),
    "dict_type": ("type", "objet attendu"),
    "model_type": ("type", "objet attendu"),
    "model_attributes_type": ("type", "objet attendu"),
    "date_type": ("date", "date attendue au format AAAA-MM-JJ"),
    "date_parsing": ("date", "date attendue au format AAAA-MM-JJ"),
    "date_from_datetime_parsing": ("date", "date attendue au format AAAA-MM-JJ"),
    "date_from_datetime_inexact": ("date", "date attendue au format AAAA-MM-JJ, sans heure"),
    "datetime_type": ("horodatage", "horodatage ISO 8601 attendu"),
    "datetime_parsing": ("horodatage", "horodatage ISO 8601 attendu"),
    "datetime_from_date_parsing": ("horodatage", "horodatage ISO 8601 attendu"),
    "greater_than_equal": ("borne", "valeur trop petite"),
    "less_than_equal": ("borne", "valeur trop grande"),
    "json_invalid": ("json", "JSON illisible"),
    "json_type": ("json", "JSON attendu"),
}


def french(err: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(rule, message, expected) in plain French for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind.startswith("format_"):
        return kind, f"format invalide, attendu : {ctx.get('attendu')}", ctx.get("attendu")
    fmt = _BY_PATTERN.get(ctx.get("pattern", "")) if kind == "string_pattern_mismatch" else None
    if fmt is not None:
        return f"format_{fmt.name}", f"format invalide, attendu : {fmt.expected}", fmt.expected
    if kind == "literal_error":
        symbols = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return "code_inconnu", f"valeur inconnue, attendue parmi : {symbols}", symbols
    rule, message = _MESSAGES.get(kind, ("invalide", str(err.get("msg", "valeur invalide"))))
    expected: str | None = None
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        expected = f"{'≥' if kind == 'greater_than_equal' else '≤'} {bound}"
        message = f"{message} ({expected})"
    return rule, message or "valeur invalide", expected


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the branch name into a union's location (e.g. "function-after[...]").
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "date", "datetime"))


def _render_path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _strip_indices(loc: list[Any]) -> str:
    return ".".join(str(p) for p in loc if not isinstance(p, int))


def _show(value: Any) -> str:
    try:
        text = orjson.dumps(value, default=str).decode()
    except TypeError:
        text = repr(value)
    return shown_value(text, 80)
