"""Avro writers compiled from each contract: one straight-line Python function per schema.

fastavro's writer walks the schema as data for every record: each field costs a dictionary lookup, a type
dispatch and, in a union, a trial validation of each branch (about half a microsecond a field, 12 µs for a
Positionnement). The contracts use a small part of Avro: records, enums, arrays, unions of null and one type,
strings, numbers, booleans, dates and timestamps. For those, a function generated once per schema writes the
same bytes with the schema's decisions already taken, several times faster.

It writes only what it is sure of: any value outside the exact Python type it expects makes it give up, and
the codec then hands the record to fastavro, which writes or refuses it as it always did. A schema with any
other feature compiles to nothing and stays with fastavro. The tests hold every contract's bytes to fastavro's.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from fastavro.write import LOGICAL_WRITERS

from passerelle.core.contracts.compiled import SourceBuilder, Unsupported, null_and_one

Writer = Callable[[Any, bytes], bytes]

_INT = (-(2**31), 2**31)
_LONG = (-(2**63), 2**63)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# One byte holds the zigzag of -64 to 63: every union index, enum index, short string length and small number.
_ONE_BYTE = {n: bytes([(n << 1) ^ (n >> 63)]) for n in range(-64, 64)}


class Refused(Exception):
    """A value is not of the exact type the compiled writer expects; fastavro decides."""


def long_bytes(n: int) -> bytes:
    """Avro's zigzag varint of a long."""
    small = _ONE_BYTE.get(n)
    if small is not None:
        return small
    if not _LONG[0] <= n < _LONG[1]:
        raise Refused
    z = (n << 1) ^ (n >> 63)
    if z < 0x4000:  # a string's length up to 8,191 bytes
        return bytes((z & 0x7F | 0x80, z >> 7))
    if z < 0x200000:  # a date of this century, in days from 1970
        return bytes((z & 0x7F | 0x80, z >> 7 & 0x7F | 0x80, z >> 14))
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


# The size before a string or bytes of fewer than 1,024 bytes, written once: alone, or after a union's index 0 or 1
# (one append instead of two, and no call).
_SIZED_BELOW = 1024
_SIZE_TABLES = {lead: tuple(lead + long_bytes(n) for n in range(_SIZED_BELOW)) for lead in (b"", b"\x00", b"\x02")}
_SIZE_NAMES = {b"": "_size", b"\x00": "_size_after_0", b"\x02": "_size_after_1"}


def compile_writer(parsed: Any) -> Writer | None:
    """``write(record, header) -> header + Avro body`` for a fastavro-parsed record schema, or None when the
    schema uses a feature the compiler leaves to fastavro."""
    writer: Writer | None = _Writing.compile(
        parsed, ["def compiled(v0, header):", "    out = [header]", "    a = out.append"], "    return b''.join(out)"
    )
    return writer


class _Writing(SourceBuilder):
    ROLE = "writer"
    CONSTANTS: ClassVar[dict[str, Any]] = {
        "_long": long_bytes,
        **{name: _SIZE_TABLES[lead] for lead, name in _SIZE_NAMES.items()},
        "_Refused": Refused,
        "_double": struct.Struct("<d").pack,
        "_float": struct.Struct("<f").pack,
        "_date": dt.date,
        "_epoch": _EPOCH_ORDINAL,
        "_int_low": _INT[0],
        "_int_high": _INT[1],
    }

    def value(self, schema: Any, var: str, depth: int) -> None:
        """Lines writing ``var`` under ``schema``, or raising Refused."""
        schema, kind, logical = self.inspect(schema)
        if logical is not None:
            self._logical(schema, kind, logical, var, depth)
        elif kind == "union":
            null_index, other_index, other = null_and_one(schema)
            self.emit(f"if {var} is None:", depth)
            self.emit(f"a({long_bytes(null_index)!r})", depth + 1)
            self.emit("else:", depth)
            _, other_kind, other_logical = self.inspect(other)
            if other_kind in _SIZED_KINDS and other_logical is None:  # the index and the size in one piece
                for line in _SIZED_KINDS[other_kind](var, long_bytes(other_index)):
                    self.emit(line, depth + 1)
                return
            self.emit(f"a({long_bytes(other_index)!r})", depth + 1)
            self.value(other, var, depth + 1)
        elif kind == "record":
            self._record(schema, var, depth)
        elif kind == "enum":
            symbols = self.constant({s: long_bytes(i) for i, s in enumerate(schema["symbols"])})
            self.emit(f"a({symbols}[{var}])", depth)  # KeyError: not a symbol (or not a string)
        elif kind == "array":
            item = self.name("v")
            self.emit(f"if type({var}) is not list: raise _Refused", depth)
            self.emit(f"if {var}:", depth)
            self.emit(f"a(_long(len({var})))", depth + 1)
            self.emit(f"for {item} in {var}:", depth + 1)
            self.value(schema["items"], item, depth + 2)
            self.emit("a(b'\\x00')", depth)
        elif kind in _PRIMITIVES:
            for line in _PRIMITIVES[kind](var):
                self.emit(line, depth)
        else:
            raise Unsupported(str(kind))

    def _record(self, schema: Mapping[str, Any], var: str, depth: int) -> None:
        name = self.enter(schema)
        self.emit(f"if type({var}) is not dict: raise _Refused", depth)
        for field in schema["fields"]:
            default = field.get("default")
            if isinstance(default, dict | list) and default:
                raise Unsupported("non-empty composite default")
            inner = self.name("v")
            shown = self.constant(default) if isinstance(default, list) else repr(default)
            # fastavro reads a missing field as its default (None without one), exactly so.
            self.emit(f"{inner} = {var}.get({field['name']!r}{'' if default is None else f', {shown}'})", depth)
            self.value(field["type"], inner, depth)
        self.leave(name)

    def _logical(self, schema: Mapping[str, Any], kind: str, logical: str, var: str, depth: int) -> None:
        if kind == "int" and logical == "date":
            self.emit(f"if type({var}) is _date: a(_long({var}.toordinal() - _epoch))", depth)
            self.emit(f"elif type({var}) is int and _int_low <= {var} < _int_high: a(_long({var}))", depth)
            self.emit("else: raise _Refused", depth)
            return
        convert = LOGICAL_WRITERS.get(f"{kind}-{logical}")
        if kind != "long" or convert is None:
            raise Unsupported(f"{kind}-{logical}")
        # fastavro's own conversion (time zones, naive datetimes), then the long it writes.
        converted = self.name("v")
        self.emit(f"{converted} = {self.constant(convert)}({var}, {self.constant(schema)})", depth)
        self.emit(f"if type({converted}) is not int: raise _Refused", depth)
        self.emit(f"a(_long({converted}))", depth)


def _string(var: str, lead: bytes = b"") -> list[str]:
    # UnicodeEncodeError (a lone surrogate) leaves the value to fastavro.
    return [f"if type({var}) is not str: raise _Refused", f"{var} = {var}.encode()", *_sized(var, lead)]


def _bytes(var: str, lead: bytes = b"") -> list[str]:
    return [f"if type({var}) is not bytes: raise _Refused", *_sized(var, lead)]


def _sized(var: str, lead: bytes) -> list[str]:
    """``lead`` (a union's index), the size and the bytes of ``var``: the first two from a table for most sizes."""
    longer = f"{lead!r} + _long(n)" if lead else "_long(n)"
    return [f"a({_SIZE_NAMES[lead]}[n] if (n := len({var})) < {_SIZED_BELOW} else {longer})", f"a({var})"]


def _int(var: str) -> list[str]:
    return [f"if type({var}) is not int or not _int_low <= {var} < _int_high: raise _Refused", f"a(_long({var}))"]


def _long(var: str) -> list[str]:
    return [f"if type({var}) is not int: raise _Refused", f"a(_long({var}))"]


def _boolean(var: str) -> list[str]:
    return [f"if {var} is True: a(b'\\x01')", f"elif {var} is False: a(b'\\x00')", "else: raise _Refused"]


def _double(var: str) -> list[str]:
    return [f"if type({var}) is not float: raise _Refused", f"a(_double({var}))"]


def _float(var: str) -> list[str]:
    return [f"if type({var}) is not float: raise _Refused", f"a(_float({var}))"]


def _null(var: str) -> list[str]:
    return [f"if {var} is not None: raise _Refused"]


_SIZED_KINDS: dict[str, Callable[[str, bytes], list[str]]] = {"string": _string, "bytes": _bytes}
_PRIMITIVES: dict[str, Callable[[str], list[str]]] = {
    "string": _string,
    "bytes": _bytes,
    "int": _int,
    "long": _long,
    "boolean": _boolean,
    "double": _double,
    "float": _float,
    "null": _null,
}
