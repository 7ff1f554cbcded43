"""Widevine PSSH data: the `WidevinePsshData` protobuf, encoded and decoded by hand.

Hand-written so the packager needs no protobuf runtime or generated code for six fields.
Fields (proto2, all optional): algorithm=1 (enum, 1 = AESCTR; deprecated, omitted by
default), key_id=2 (repeated bytes), provider=3 (string), content_id=4 (bytes), policy=6
(string), crypto_period_index=7 (uint32), protection_scheme=9 (uint32 holding the 4CC,
'cbcs' = 0x63626373). Encoding writes fields in number order, as protobuf itself does;
decoding keeps fields it does not know so `vod pssh decode` can still show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drm.keys import DrmError

__all__ = ["WidevinePsshData", "widevine_pssh_data", "fourcc_to_int", "int_to_fourcc"]

ALGORITHMS = {0: "UNENCRYPTED", 1: "AESCTR"}
SCHEMES = ("cenc", "cbcs", "cens", "cbc1")

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


@dataclass
class WidevinePsshData:
    """The decoded message; None means 'field absent'."""

    key_ids: list[bytes] = field(default_factory=list)
    provider: str | None = None
    content_id: bytes | None = None
    policy: str | None = None
    crypto_period_index: int | None = None
    protection_scheme: str | None = None
    algorithm: int | None = None
    unknown: list[tuple[int, int, int | bytes]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        out = bytearray()
        if self.algorithm is not None:
            out += _tag(1, _VARINT) + _varint(self.algorithm)
        for kid in self.key_ids:
            out += _tag(2, _BYTES) + _varint(len(kid)) + bytes(kid)
        if self.provider is not None:
            out += _len_delimited(3, self.provider.encode("utf-8"))
        if self.content_id is not None:
            out += _len_delimited(4, bytes(self.content_id))
        if self.policy is not None:
            out += _len_delimited(6, self.policy.encode("utf-8"))
        if self.crypto_period_index is not None:
            out += _tag(7, _VARINT) + _varint(self.crypto_period_index)
        if self.protection_scheme is not None:
            out += _tag(9, _VARINT) + _varint(fourcc_to_int(self.protection_scheme))
        for number, wire, value in self.unknown:
            out += _tag(number, wire) + _encode_value(wire, value)
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes) -> WidevinePsshData:
        msg = cls()
        for number, wire, value in _fields(bytes(data)):
            expected = _KNOWN_WIRE.get(number)
            if expected is None:
                msg.unknown.append((number, wire, value))
                continue
            if wire != expected:
                raise DrmError(f"Widevine PSSH data: field {number} has wire type {wire}")
            if number == 1:
                msg.algorithm = int(value)  # type: ignore[arg-type]
            elif number == 2:
                msg.key_ids.append(bytes(value))  # type: ignore[arg-type]
            elif number == 3:
                msg.provider = _utf8(value, "provider")  # type: ignore[arg-type]
            elif number == 4:
                msg.content_id = bytes(value)  # type: ignore[arg-type]
            elif number == 6:
                msg.policy = _utf8(value, "policy")  # type: ignore[arg-type]
            elif number == 7:
                msg.crypto_period_index = int(value)  # type: ignore[arg-type]
            elif number == 9:
                msg.protection_scheme = int_to_fourcc(int(value))  # type: ignore[arg-type]
        return msg


_KNOWN_WIRE = {1: _VARINT, 2: _BYTES, 3: _BYTES, 4: _BYTES, 6: _BYTES, 7: _VARINT, 9: _VARINT}


def widevine_pssh_data(
    kids: list[bytes] | tuple[bytes, ...],
    scheme: str = "cenc",
    *,
    provider: str | None = None,
    content_id: bytes | None = None,
    policy: str | None = None,
) -> bytes:
    """PSSH data listing `kids`, with protection_scheme always written (older Widevine
    clients read a missing one as cenc). Byte-identical to Shaka Packager 3.4 output."""
    if scheme not in SCHEMES:
        raise DrmError(f"unknown protection scheme {scheme!r}")
    for kid in kids:
        if len(kid) != 16:
            raise DrmError("Widevine key_id must be 16 bytes")
    return WidevinePsshData(
        key_ids=list(kids),
        provider=provider,
        content_id=content_id,
        policy=policy,
        protection_scheme=scheme,
    ).to_bytes()


def fourcc_to_int(fourcc: str) -> int:
    raw = fourcc.encode("ascii")
    if len(raw) != 4:
        raise DrmError(f"protection scheme {fourcc!r} is not a four-character code")
    return int.from_bytes(raw, "big")


def int_to_fourcc(value: int) -> str:
    raw = (value & 0xFFFFFFFF).to_bytes(4, "big")
    return raw.decode("ascii") if all(0x20 <= b < 0x7F for b in raw) else f"0x{value:08x}"


# -- protobuf wire format ----------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        raise DrmError("negative values are not used in Widevine PSSH data")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len_delimited(number: int, payload: bytes) -> bytes:
    return _tag(number, _BYTES) + _varint(len(payload)) + payload


def _encode_value(wire: int, value: int | bytes) -> bytes:
    if wire == _VARINT:
        return _varint(int(value))  # type: ignore[arg-type]
    if wire == _FIXED64:
        return int(value).to_bytes(8, "little")  # type: ignore[arg-type]
    if wire == _FIXED32:
        return int(value).to_bytes(4, "little")  # type: ignore[arg-type]
    return _varint(len(value)) + bytes(value)  # type: ignore[arg-type]


def _read_varint(buf: bytes, off: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if off >= len(buf):
            raise DrmError("Widevine PSSH data: truncated varint")
        b = buf[off]
        off += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, off
        shift += 7
        if shift >= 64:
            raise DrmError("Widevine PSSH data: varint longer than 10 bytes")


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    out: list[tuple[int, int, int | bytes]] = []
    off = 0
    while off < len(buf):
        key, off = _read_varint(buf, off)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DrmError("Widevine PSSH data: field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, off = _read_varint(buf, off)
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if off + size > len(buf):
                raise DrmError("Widevine PSSH data: truncated fixed-size field")
            value, off = int.from_bytes(buf[off : off + size], "little"), off + size
        elif wire == _BYTES:
            size, off = _read_varint(buf, off)
            if off + size > len(buf):
                raise DrmError(f"Widevine PSSH data: field {number} runs past the end")
            value, off = buf[off : off + size], off + size
        else:
            raise DrmError(f"Widevine PSSH data: unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _utf8(value: bytes, name: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise DrmError(f"Widevine PSSH data: {name} is not UTF-8") from None
