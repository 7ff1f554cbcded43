"""Box base class, registry and generic (de)serialisation driven by each box's description."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, ClassVar

from pipeline.mp4.fields import BoxFormatError, Field, Table

REGISTRY: dict[str, type[Box]] = {}


def register(cls: type[Box]) -> type[Box]:
    for t in cls.types or (cls.type,):
        REGISTRY[t] = cls
    return cls


class Box:
    """An ISO BMFF box. Subclasses declare `type`, `full`, `fields` and whether children follow.

    Unknown box types are kept as `RawBox`, so a parse/write round trip is byte-exact.
    """

    type: ClassVar[str] = ""
    types: ClassVar[tuple[str, ...]] = ()  # several 4CCs sharing one layout (sample entries)
    full: ClassVar[bool] = False
    fields: ClassVar[tuple[Field, ...]] = ()
    has_children: ClassVar[bool] = False
    child_count: ClassVar[str | None] = None  # field that stores len(children) (stsd, dref)

    def __init__(self, box_type: str | None = None, **values: Any):
        self.box_type = box_type or self.type
        self.version = values.pop("version", 0)
        self.flags = values.pop("flags", 0)
        self.children: list[Box] = list(values.pop("children", []))
        for f in self.fields:
            setattr(self, f.name, values.pop(f.name, f.default))
        if values:
            raise TypeError(f"{self.box_type}: unknown fields {sorted(values)}")

    # -- parsing ---------------------------------------------------------------------------
    @classmethod
    def parse(cls, box_type: str, payload: bytes) -> Box:
        box = cls.__new__(cls)
        box.box_type, box.children = box_type, []
        box.version, box.flags = 0, 0
        off = 0
        if cls.full:
            if len(payload) < 4:
                raise BoxFormatError(f"{box_type}: truncated FullBox header")
            box.version = payload[0]
            box.flags = int.from_bytes(payload[1:4], "big")
            off = 4
        for f in cls.fields:
            if f.present_on_read(box, box.flags):
                try:
                    value, off = f.codec.read(payload, off, box)
                except BoxFormatError as e:
                    raise BoxFormatError(f"{box_type}.{f.name}: {e}") from None
            else:
                value = None
            setattr(box, f.name, value)
        if cls.has_children:
            box.children = list(parse_boxes(payload, off))
        elif off != len(payload) and cls is not RawBox:
            box.trailing = payload[off:]
        return box

    # -- writing ---------------------------------------------------------------------------
    def _flags_to_write(self) -> int:
        flags = self.flags
        for f in self.fields:
            value = getattr(self, f.name)
            if isinstance(f.codec, Table):
                bound = 0
                for rf in f.codec.record.fields:
                    bound |= rf.flag
                flags = (flags & ~bound) | f.codec.record.flags_used(value or [])
            elif f.flag:
                flags = flags | f.flag if value is not None else flags & ~f.flag
        return flags

    def payload(self) -> bytes:
        out = bytearray()
        if self.child_count:
            setattr(self, self.child_count, len(self.children))
        for f in self.fields:
            if isinstance(f.codec, Table) and f.codec.count and f.present_on_read(self, 0):
                setattr(self, f.codec.count, len(getattr(self, f.name) or []))
            if f.size_of:
                setattr(self, f.name, len(getattr(self, f.size_of) or b""))
        if self.full:
            self.flags = self._flags_to_write()
            out += bytes([self.version]) + self.flags.to_bytes(3, "big")
        for f in self.fields:
            value = getattr(self, f.name)
            if isinstance(f.codec, Table):
                if f.present_on_read(self, self.flags):
                    out += f.codec.write(value or [], self)
            elif f.present_on_read(self, self.flags):
                if value is None:
                    raise BoxFormatError(f"{self.box_type}.{f.name} is required")
                out += f.codec.write(value, self)
        out += getattr(self, "trailing", b"")
        for child in self.children:
            out += child.to_bytes()
        return bytes(out)

    def to_bytes(self) -> bytes:
        body = self.payload()
        return header(self.box_type, len(body)) + body

    @property
    def size(self) -> int:
        return len(self.to_bytes())

    # -- navigation ------------------------------------------------------------------------
    def find(self, path: str) -> Box | None:
        """First descendant along a '/'-separated path of types, e.g. 'trak/mdia/mdhd'."""
        found = self.find_all(path)
        return found[0] if found else None

    def find_all(self, path: str) -> list[Box]:
        head, _, rest = path.partition("/")
        matches = [c for c in self.children if c.box_type == head]
        if not rest:
            return matches
        return [d for m in matches for d in m.find_all(rest)]

    def replace_child(self, old: Box, new: Box) -> None:
        self.children[self.children.index(old)] = new

    def __repr__(self) -> str:
        vals = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.fields[:6])
        kids = f" +{len(self.children)} children" if self.children else ""
        return f"<{self.box_type} {vals}{kids}>"


class RawBox(Box):
    """A box we do not interpret: its payload is kept verbatim."""

    def __init__(self, box_type: str, data: bytes = b""):
        super().__init__(box_type)
        self.data = data

    @classmethod
    def parse(cls, box_type: str, payload: bytes) -> Box:
        return cls(box_type, bytes(payload))

    def payload(self) -> bytes:
        return self.data


def header(box_type: str, body_size: int) -> bytes:
    size = body_size + 8
    if size > 0xFFFFFFFF:
        return struct.pack(">I4sQ", 1, box_type.encode("latin-1"), body_size + 16)
    return struct.pack(">I4s", size, box_type.encode("latin-1"))


def read_header(buf: bytes, off: int) -> tuple[str, int, int]:
    """(type, header size, total size) of the box at `off`; size 0 means 'to the end'."""
    if off + 8 > len(buf):
        raise BoxFormatError(f"truncated box header at offset {off}")
    size, raw_type = struct.unpack_from(">I4s", buf, off)
    hdr = 8
    if size == 1:
        if off + 16 > len(buf):
            raise BoxFormatError(f"truncated 64-bit box header at offset {off}")
        size = struct.unpack_from(">Q", buf, off + 8)[0]
        hdr = 16
    elif size == 0:
        size = len(buf) - off
    box_type = raw_type.decode("latin-1")
    if size < hdr:
        raise BoxFormatError(f"box '{box_type}' at offset {off} has invalid size {size}")
    return box_type, hdr, size


def parse_box(buf: bytes, off: int = 0) -> tuple[Box, int]:
    box_type, hdr, size = read_header(buf, off)
    if off + size > len(buf):
        raise BoxFormatError(f"box '{box_type}' at offset {off} runs past the end ({size} bytes)")
    cls = REGISTRY.get(box_type, RawBox)
    return cls.parse(box_type, buf[off + hdr : off + size]), off + size


def parse_boxes(buf: bytes, off: int = 0) -> Iterator[Box]:
    while off < len(buf):
        box, off = parse_box(buf, off)
        yield box
