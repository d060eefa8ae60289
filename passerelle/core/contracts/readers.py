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
from typing import Any, ClassVar

from fastavro.read import LOGICAL_READERS

from passerelle.core.contracts.compiled import SourceBuilder, Unsupported, null_and_one

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# (bytes, offset) -> (record, offset after it)
Reader = Callable[[bytes, int], tuple[dict[str, Any], int]]


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
    reader: Reader | None = _Reading.compile(
        parsed, ["def compiled(data, i):", "    size = len(data)"], "    return v0, i"
    )
    return reader


class _Reading(SourceBuilder):
    ROLE = "reader"
    CONSTANTS: ClassVar[dict[str, Any]] = {
        "_long": read_long,
        "_Refused": Refused,
        "_double": struct.Struct("<d").unpack_from,
        "_float": struct.Struct("<f").unpack_from,
        "_day": dt.date.fromordinal,
    }

    def _varint(self, var: str, depth: int) -> None:
        """``var`` = the long at ``i``; one byte, the common case, without a call."""
        self.emit("b = data[i]", depth)
        self.emit(f"if b < 128: {var} = (b >> 1) ^ -(b & 1); i += 1", depth)
        self.emit(f"else: {var}, i = _long(data, i)", depth)

    def value(self, schema: Any, var: str, depth: int) -> None:
        """Lines setting ``var`` to the value at ``i`` under ``schema`` and moving ``i`` past it."""
        schema, kind, logical = self.inspect(schema)
        if logical is not None:
            self._logical(schema, kind, logical, var, depth)
        elif kind == "union":
            null_index, other_index, other = null_and_one(schema)
            # The branch index is 0 or 1, one byte each (0x00, 0x02); any other byte is left to fastavro.
            self.emit("b = data[i]; i += 1", depth)
            self.emit(f"if b == {2 * null_index}: {var} = None", depth)
            self.emit(f"elif b == {2 * other_index}:", depth)
            self.value(other, var, depth + 1)
            self.emit("else: raise _Refused", depth)
        elif kind == "record":
            name = self.enter(schema)
            fields = []
            for field in schema["fields"]:
                inner = self.name("v")
                self.value(field["type"], inner, depth)
                fields.append(f"{field['name']!r}: {inner}")
            self.emit(f"{var} = {{{', '.join(fields)}}}", depth)
            self.leave(name)
        elif kind == "enum":
            symbols = self.constant(tuple(schema["symbols"]))
            self._varint(var, depth)
            self.emit(f"if not 0 <= {var} < {len(schema['symbols'])}: raise _Refused", depth)
            self.emit(f"{var} = {symbols}[{var}]", depth)
        elif kind == "array":
            self._array(schema, var, depth)
        elif kind in ("string", "bytes"):
            # A length under 64 is one even byte: no zigzag, no sign to check.
            self.emit("b = data[i]", depth)
            self.emit(f"if not b & 0x81: {var} = b >> 1; i += 1", depth)
            self.emit(f"else: {var}, i = _long(data, i)", depth)
            self.emit(f"end = i + {var}", depth)
            self.emit(f"if {var} < 0 or end > size: raise _Refused", depth)
            decode = ".decode()" if kind == "string" else ""  # strict UTF-8, as fastavro reads it
            self.emit(f"{var} = data[i:end]{decode}; i = end", depth)
        elif kind in ("int", "long"):
            self._varint(var, depth)
        elif kind == "boolean":
            self.emit("b = data[i]; i += 1", depth)
            self.emit(f"if b == 1: {var} = True", depth)
            self.emit(f"elif b == 0: {var} = False", depth)
            self.emit("else: raise _Refused", depth)
        elif kind in ("double", "float"):
            self.emit(f"{var}, = _{kind}(data, i); i += {8 if kind == 'double' else 4}", depth)
        elif kind == "null":
            self.emit(f"{var} = None", depth)
        else:
            raise Unsupported(str(kind))

    def _logical(self, schema: Any, kind: str, logical: str, var: str, depth: int) -> None:
        convert = LOGICAL_READERS.get(f"{kind}-{logical}")
        if kind not in ("int", "long") or convert is None:
            raise Unsupported(f"{kind}-{logical}")
        self._varint(var, depth)
        if logical == "date":  # fastavro's conversion, without its call: a day no calendar holds raises
            self.emit(f"{var} = _day({var} + {_EPOCH_ORDINAL})", depth)
        else:  # fastavro's own conversion, time zone included
            self.emit(f"{var} = {self.constant(convert)}({var}, {self.constant(schema)}, None)", depth)

    def _array(self, schema: Any, var: str, depth: int) -> None:
        count, item = self.name("n"), self.name("v")
        self.emit(f"{var} = []", depth)
        self.emit("while True:", depth)
        self._varint(count, depth + 1)
        self.emit(f"if {count} == 0: break", depth + 1)
        self.emit(f"if {count} < 0:", depth + 1)  # a block that also gives its size in bytes
        self.emit(f"{count} = -{count}", depth + 2)
        self._varint("_size", depth + 2)
        self.emit(f"if {count} > size - i: raise _Refused", depth + 1)  # each item takes a byte at least
        self.emit(f"for _ in range({count}):", depth + 1)
        self.value(schema["items"], item, depth + 2)
        self.emit(f"{var}.append({item})", depth + 2)
