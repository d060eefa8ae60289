"""Avro readers compiled from each contract, the counterpart of :mod:`writers`.

fastavro's reader walks the schema as data for every record (12 µs for a Positionnement). A function generated
once per schema reads the same records from the same bytes with the schema's decisions already taken. It reads
only what it is sure of: anything unexpected in the bytes (a truncation, an index out of range, a varint longer
than a long, invalid UTF-8) makes it give up, and the codec then hands the bytes to fastavro, which reads or
refuses them as it always did. Values with a logical type go through fastavro's own conversions.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from typing import Any

from fastavro.read import LOGICAL_READERS

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# (bytes, offset) -> (record, offset after it)
Reader = Callable[[bytes, int], tuple[dict[str, Any], int]]


class Unsupported(Exception):
    """The schema uses an Avro feature this compiler does not read; fastavro keeps it."""


class Refused(Exception):
    """The bytes are not what the compiled reader is sure of; fastavro decides."""


def read_long(data: bytes, i: int) -> tuple[int, int]:
    """Avro's zigzag varint at ``i``: (value, offset after it). Longer than a long: fastavro decides."""
    byte = data[i]
    n = byte & 0x7F
    shift = 7
    i += 1
    while byte & 0x80:
        if shift > 63:
            raise Refused
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
    if n >> 64:
        raise Refused
    return (n >> 1) ^ -(n & 1), i


def compile_reader(parsed: Any) -> Reader | None:
    """``read(data, offset) -> (record, end)`` for a fastavro-parsed record schema, or None when the schema uses a
    feature the compiler leaves to fastavro."""
    try:
        return _Compiler(parsed).function()
    except Unsupported:
        return None


class _Compiler:
    def __init__(self, parsed: Any) -> None:
        self.root = parsed
        self.named: dict[str, Any] = dict(parsed.get("__named_schemas", {}))
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "_long": read_long,
            "_Refused": Refused,
            "_double": struct.Struct("<d").unpack_from,
            "_float": struct.Struct("<f").unpack_from,
            "_day": dt.date.fromordinal,
        }
        self.count = 0
        self.open: set[str] = set()

    def function(self) -> Reader:
        if _kind(self.root) != "record":
            raise Unsupported("top level")
        self.lines = ["def read(data, i):", "    size = len(data)"]
        self._value(self.root, "v0", 1)
        self.lines.append("    return v0, i")
        namespace = dict(self.constants)
        exec("\n".join(self.lines), namespace)  # noqa: S102 - code built above from the schema's structure only
        reader: Reader = namespace["read"]
        return reader

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _constant(self, value: Any) -> str:
        name = self._name("_c")
        self.constants[name] = value
        return name

    def _emit(self, line: str, depth: int) -> None:
        self.lines.append("    " * depth + line)

    def _varint(self, var: str, depth: int) -> None:
        """``var`` = the long at ``i``; one byte, the common case, without a call."""
        self._emit("b = data[i]", depth)
        self._emit(f"if b < 128: {var} = (b >> 1) ^ -(b & 1); i += 1", depth)
        self._emit(f"else: {var}, i = _long(data, i)", depth)

    def _value(self, schema: Any, var: str, depth: int) -> None:
        """Lines setting ``var`` to the value at ``i`` under ``schema`` and moving ``i`` past it."""
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        kind = _kind(schema)
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if logical is not None:
            convert = LOGICAL_READERS.get(f"{kind}-{logical}")
            if kind not in ("int", "long") or convert is None:
                raise Unsupported(f"{kind}-{logical}")
            self._varint(var, depth)
            if logical == "date":  # fastavro's conversion, without its call: a day no calendar holds raises
                self._emit(f"{var} = _day({var} + {_EPOCH_ORDINAL})", depth)
            else:  # fastavro's own conversion, time zone included
                self._emit(f"{var} = {self._constant(convert)}({var}, {self._constant(schema)}, None)", depth)
        elif isinstance(schema, list):
            self._union(schema, var, depth)
        elif kind == "record":
            self._record(schema, var, depth)
        elif kind == "enum":
            symbols = self._constant(tuple(schema["symbols"]))
            self._varint(var, depth)
            self._emit(f"if not 0 <= {var} < {len(schema['symbols'])}: raise _Refused", depth)
            self._emit(f"{var} = {symbols}[{var}]", depth)
        elif kind == "array":
            self._array(schema, var, depth)
        elif kind in ("string", "bytes"):
            # A length under 64 is one even byte: no zigzag, no sign to check.
            self._emit("b = data[i]", depth)
            self._emit(f"if not b & 0x81: {var} = b >> 1; i += 1", depth)
            self._emit(f"else: {var}, i = _long(data, i)", depth)
            self._emit(f"end = i + {var}", depth)
            self._emit(f"if {var} < 0 or end > size: raise _Refused", depth)
            decode = ".decode()" if kind == "string" else ""  # strict UTF-8, as fastavro reads it
            self._emit(f"{var} = data[i:end]{decode}; i = end", depth)
        elif kind in ("int", "long"):
            self._varint(var, depth)
        elif kind == "boolean":
            self._emit("b = data[i]; i += 1", depth)
            self._emit(f"if b == 1: {var} = True", depth)
            self._emit(f"elif b == 0: {var} = False", depth)
            self._emit("else: raise _Refused", depth)
        elif kind in ("double", "float"):
            self._emit(f"{var}, = _{kind}(data, i); i += {8 if kind == 'double' else 4}", depth)
        elif kind == "null":
            self._emit(f"{var} = None", depth)
        else:
            raise Unsupported(str(kind))

    def _record(self, schema: Any, var: str, depth: int) -> None:
        name = schema.get("name", "")
        if name in self.open:
            raise Unsupported("recursive record")
        self.open.add(name)
        fields = []
        for field in schema["fields"]:
            inner = self._name("v")
            self._value(field["type"], inner, depth)
            fields.append(f"{field['name']!r}: {inner}")
        self._emit(f"{var} = {{{', '.join(fields)}}}", depth)
        self.open.discard(name)

    def _union(self, branches: list[Any], var: str, depth: int) -> None:
        others = [b for b in branches if b != "null"]
        if len(branches) != 2 or len(others) != 1:
            raise Unsupported("union other than null and one type")
        # The branch index is 0 or 1, one byte each (0x00, 0x02); any other byte is left to fastavro.
        self._emit("b = data[i]; i += 1", depth)
        self._emit(f"if b == {2 * branches.index('null')}: {var} = None", depth)
        self._emit(f"elif b == {2 * branches.index(others[0])}:", depth)
        self._value(others[0], var, depth + 1)
        self._emit("else: raise _Refused", depth)

    def _array(self, schema: Any, var: str, depth: int) -> None:
        count, item = self._name("n"), self._name("v")
        self._emit(f"{var} = []", depth)
        self._emit("while True:", depth)
        self._varint(count, depth + 1)
        self._emit(f"if {count} == 0: break", depth + 1)
        self._emit(f"if {count} < 0:", depth + 1)  # a block that also gives its size in bytes
        self._emit(f"{count} = -{count}", depth + 2)
        self._varint("_size", depth + 2)
        self._emit(f"if {count} > len(data) - i: raise _Refused", depth + 1)  # each item takes a byte at least
        self._emit(f"for _ in range({count}):", depth + 1)
        self._value(schema["items"], item, depth + 2)
        self._emit(f"{var}.append({item})", depth + 2)


def _kind(schema: Any) -> Any:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, dict):
        return schema.get("type")
    return "union"
