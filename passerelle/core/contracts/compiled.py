"""What the compiled Avro writers and readers share: Python source built from a parsed schema, then run once.

The source is made of the schema's structure only (field names quoted with ``repr``, indexes, sizes); any value
it needs (a symbol table, fastavro's conversion for a logical type) is passed in as a named constant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


class Unsupported(Exception):
    """The schema uses an Avro feature the compiler leaves to fastavro."""


def kind_of(schema: Any) -> Any:
    """``string``, ``record``... for a schema written as a name or an object; ``union`` for a list of branches."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, dict):
        return schema.get("type")
    return "union"


def null_and_one(branches: list[Any]) -> tuple[int, int, Any]:
    """(index of null, index of the other branch, the other branch) of a union of null and one type."""
    others = [b for b in branches if b != "null"]
    if len(branches) != 2 or len(others) != 1:
        raise Unsupported("union other than null and one type")
    return branches.index("null"), branches.index(others[0]), others[0]


class SourceBuilder:
    """Lines of one function, the constants they name, and the named types of the schema they are built from.
    A subclass says what the lines of one value are (``value``) and which constants they start with."""

    CONSTANTS: ClassVar[dict[str, Any]] = {}
    ROLE: ClassVar[str] = ""

    def __init__(self, parsed: Any) -> None:
        if kind_of(parsed) != "record":
            raise Unsupported("top level")
        self.root = parsed
        self.named: dict[str, Any] = dict(parsed.get("__named_schemas", {}))
        self.constants = dict(self.CONSTANTS)
        self.lines: list[str] = []
        self._count = 0
        self._open: set[str] = set()  # named records being built: a reference back to one is recursion

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def constant(self, value: Any) -> str:
        name = self.name("_c")
        self.constants[name] = value
        return name

    def emit(self, line: str, depth: int) -> None:
        self.lines.append("    " * depth + line)

    def inspect(self, schema: Any) -> tuple[Any, Any, str | None]:
        """(the schema a name refers to, or the schema itself; its kind; its logical type)."""
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        return schema, kind_of(schema), logical

    def enter(self, record: Any) -> str:
        name: str = record.get("name", "")
        if name in self._open:
            raise Unsupported("recursive record")
        self._open.add(name)
        return name

    def leave(self, name: str) -> None:
        self._open.discard(name)

    def value(self, schema: Any, var: str, depth: int) -> None:
        """The lines handling ``var`` under ``schema``, at ``depth``."""
        raise NotImplementedError

    @classmethod
    def compile(cls, parsed: Any, head: list[str], tail: str) -> Callable[..., Any] | None:
        """The function whose first lines are ``head``, then the root record as ``v0``, then ``tail``; None when
        the schema uses a feature the compiler leaves to fastavro."""
        try:
            source = cls(parsed)
            source.lines = list(head)
            source.value(parsed, "v0", 1)
            source.lines.append(tail)
        except Unsupported:
            return None
        namespace = dict(source.constants)
        # Named after its schema, so that a profile says which contract's writer or reader the time is in.
        code = compile("\n".join(source.lines), f"<avro {cls.ROLE} {parsed.get('name', '')}>", "exec")
        exec(code, namespace)  # noqa: S102 - source built from the schema's structure only
        built: Callable[..., Any] = namespace["compiled"]
        return built
