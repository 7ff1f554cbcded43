"""Field codecs for the declarative box model.

A box is described once as an ordered tuple of `Field`s; the same description parses a payload
and writes it back. Optional fields are bound to a flag bit of their FullBox: present when the
bit is set on parsing, and the bit is set on writing when the value is present. That keeps
`flags` derived from the data instead of being a second source of truth that can drift.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

# Entries without any stored member (all from defaults) take no bytes, so the payload size
# cannot bound their count; more than this many in one table is treated as corrupt.
MAX_EMPTY_ENTRIES = 1 << 24


class BoxFormatError(ValueError):
    """A box payload does not match its description (truncated, bad count...)."""


class Codec(Protocol):
    def read(self, buf: bytes, off: int, box: Any) -> tuple[Any, int]: ...

    def write(self, value: Any, box: Any) -> bytes: ...


@dataclass(frozen=True)
class Int:
    fmt: str  # struct format, big-endian

    def read(self, buf: bytes, off: int, box: Any) -> tuple[int, int]:
        size = struct.calcsize(self.fmt)
        if off + size > len(buf):
            raise BoxFormatError(f"truncated: need {size} bytes at offset {off}")
        return struct.unpack_from(self.fmt, buf, off)[0], off + size

    def write(self, value: int, box: Any) -> bytes:
        return struct.pack(self.fmt, value)


u8, u16, u32, u64 = Int(">B"), Int(">H"), Int(">I"), Int(">Q")
i16, i32, i64 = Int(">h"), Int(">i"), Int(">q")


@dataclass(frozen=True)
class Bytes:
    """Fixed-size bytes (`size`), or everything up to the end of the payload (`size=None`)."""

    size: int | None = None

    def read(self, buf: bytes, off: int, box: Any) -> tuple[bytes, int]:
        end = len(buf) if self.size is None else off + self.size
        if end > len(buf):
            raise BoxFormatError(f"truncated: need {self.size} bytes at offset {off}")
        return bytes(buf[off:end]), end

    def write(self, value: bytes, box: Any) -> bytes:
        if self.size is not None and len(value) != self.size:
            raise BoxFormatError(f"expected {self.size} bytes, got {len(value)}")
        return bytes(value)


@dataclass(frozen=True)
class FourCC:
    def read(self, buf: bytes, off: int, box: Any) -> tuple[str, int]:
        if off + 4 > len(buf):
            raise BoxFormatError("truncated four-character code")
        return buf[off : off + 4].decode("latin-1"), off + 4

    def write(self, value: str, box: Any) -> bytes:
        raw = value.encode("latin-1")
        if len(raw) != 4:
            raise BoxFormatError(f"four-character code must be 4 bytes: {value!r}")
        return raw


fourcc = FourCC()


@dataclass(frozen=True)
class ByVersion:
    """A field whose width depends on the FullBox version (e.g. 32-bit in v0, 64-bit in v1)."""

    v0: Codec
    v1: Codec

    def pick(self, box: Any) -> Codec:
        return self.v1 if getattr(box, "version", 0) >= 1 else self.v0

    def read(self, buf: bytes, off: int, box: Any) -> tuple[Any, int]:
        return self.pick(box).read(buf, off, box)

    def write(self, value: Any, box: Any) -> bytes:
        return self.pick(box).write(value, box)


@dataclass(frozen=True)
class Field:
    """One named field. `flag`: present only when that FullBox flag bit is set.
    `when`: present only when the predicate on the (partly parsed) box holds."""

    name: str
    codec: Any
    flag: int = 0
    when: Callable[[Any], bool] | None = None
    default: Any = None
    size_of: str | None = None  # on writing, set to len() of that other field

    def present_on_read(self, box: Any, flags: int) -> bool:
        if self.flag and not flags & self.flag:
            return False
        return self.when is None or bool(self.when(box))


@dataclass(frozen=True)
class Record:
    """A struct repeated in a table, each entry a dict. Flag-bound members follow the box flags."""

    fields: tuple[Field, ...]

    def read(self, buf: bytes, off: int, box: Any, flags: int) -> tuple[dict[str, Any], int]:
        entry: dict[str, Any] = {}
        for f in self.fields:
            if f.present_on_read(box, flags):
                entry[f.name], off = f.codec.read(buf, off, box)
        return entry, off

    def write(self, entry: dict[str, Any], box: Any, flags: int) -> bytes:
        out = bytearray()
        for f in self.fields:
            if f.present_on_read(box, flags):
                out += f.codec.write(entry[f.name], box)
        return bytes(out)

    def layout(self, box: Any, flags: int) -> tuple[tuple[str, ...], struct.Struct | None]:
        """Names of the members present for this box, and one `struct.Struct` for them all when
        every member is fixed-width (integers, fixed bytes); None when some member is not."""
        names: list[str] = []
        fmt = ">"
        for f in self.fields:
            if not f.present_on_read(box, flags):
                continue
            codec = f.codec.pick(box) if isinstance(f.codec, ByVersion) else f.codec
            names.append(f.name)
            if isinstance(codec, Int):
                fmt += codec.fmt.lstrip(">")
            elif isinstance(codec, Bytes) and codec.size is not None:
                fmt += f"{codec.size}s"
            else:
                return tuple(names), None
        return tuple(names), struct.Struct(fmt)

    def flags_used(self, entries: list[dict[str, Any]]) -> int:
        bits = 0
        for f in self.fields:
            if f.flag and entries and entries[0].get(f.name) is not None:
                bits |= f.flag
        return bits


@dataclass(frozen=True)
class Table:
    """A list of `Record` entries whose length is stored in an earlier count field,
    or that runs to the end of the payload (`count=None`)."""

    record: Record
    count: str | None = None

    def read(self, buf: bytes, off: int, box: Any) -> tuple[list[dict[str, Any]], int]:
        flags = getattr(box, "flags", 0)
        out: list[dict[str, Any]] = []
        if self.count is None:
            while off < len(buf):
                entry, off = self.record.read(buf, off, box, flags)
                out.append(entry)
            return out, off
        n = getattr(box, self.count)
        names, st = self.record.layout(box, flags)
        if st is not None:  # fixed-width entries: one bounds check, then unpack them all at once
            end = off + n * st.size
            if st.size == 0:  # every member comes from defaults (e.g. trun with tfhd defaults)
                if n > MAX_EMPTY_ENTRIES:
                    raise BoxFormatError(f"{self.count}={n} is not a plausible entry count")
                return [{} for _ in range(n)], off
            if end > len(buf):
                raise BoxFormatError(
                    f"{self.count}={n} entries of {st.size} bytes exceed the payload "
                    f"({len(buf) - off} bytes left)"
                )
            view = memoryview(buf)[off:end]
            return [dict(zip(names, row, strict=True)) for row in st.iter_unpack(view)], end
        if n > len(buf):  # every entry takes at least one byte: refuse absurd counts early
            raise BoxFormatError(f"{self.count}={n} exceeds the payload size")
        for _ in range(n):
            entry, off = self.record.read(buf, off, box, flags)
            out.append(entry)
        return out, off

    def write(self, value: list[dict[str, Any]], box: Any) -> bytes:
        flags = getattr(box, "flags", 0)
        names, st = self.record.layout(box, flags)
        if st is not None and "s" not in st.format:  # fixed bytes keep their length check
            try:
                return b"".join(st.pack(*[e[k] for k in names]) for e in value)
            except struct.error as e:
                raise BoxFormatError(f"cannot write {names}: {e}") from None
        return b"".join(self.record.write(e, box, flags) for e in value)
