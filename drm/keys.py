"""Content keys, the KeyProvider interface, and operator-supplied static keys.

Multi-key by label: one key for AUDIO, SD, HD and UHD each, so a licence policy can release
the SD key to software CDMs while HD and above stay on hardware-backed ones. A content key
never appears in a repr, a str, an error message or a log line; only KIDs do.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.errors import PipelineError

__all__ = [
    "LABELS",
    "ContentKey",
    "DrmError",
    "KeyProvider",
    "StaticKeyProvider",
    "parse_kid",
    "kid_uuid",
    "parse_key_arg",
    "label_for_height",
    "label_for",
]

log = logging.getLogger(__name__)

LABELS = ("AUDIO", "SD", "HD", "UHD")
SD_MAX_HEIGHT = 576
HD_MAX_HEIGHT = 1080

_HEX = re.compile(r"[0-9a-fA-F]*")


class DrmError(PipelineError):
    """A DRM configuration or signalling problem the operator can fix (bad input, 422)."""

    def __init__(
        self, cause: str, path: str | None = None, *, stage: str = "drm", detail: str = ""
    ):
        super().__init__(path, cause, stage=stage, detail=detail)


@dataclass(frozen=True, repr=False)
class ContentKey:
    """One AES-128 content key and its KID. `iv` is optional (the encryptor may pick one)."""

    label: str
    kid: bytes
    key: bytes
    iv: bytes | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise DrmError(f"unknown key label {self.label!r}; expected one of {', '.join(LABELS)}")
        if not isinstance(self.kid, bytes) or len(self.kid) != 16:
            raise DrmError(f"{self.label}: KID must be 16 bytes")
        if not isinstance(self.key, bytes) or len(self.key) != 16:
            raise DrmError(f"{self.label}: content key must be 16 bytes")  # never echo the key
        if self.iv is not None and len(self.iv) not in (8, 16):
            raise DrmError(f"{self.label}: IV must be 8 or 16 bytes, got {len(self.iv)}")

    @property
    def kid_uuid(self) -> str:
        return kid_uuid(self.kid)

    def __repr__(self) -> str:
        iv = f", iv={self.iv.hex()}" if self.iv is not None else ""
        return f"ContentKey(label={self.label!r}, kid={self.kid_uuid}, key=<redacted>{iv})"

    __str__ = __repr__


@runtime_checkable
class KeyProvider(Protocol):
    """Where content keys come from: a local store, operator flags, or a CPIX/SPEKE server."""

    def keys_for(self, title_id: str, labels: Sequence[str]) -> dict[str, ContentKey]: ...


def kid_uuid(kid: bytes) -> str:
    """The KID in the dashed UUID form manifests and logs use."""
    return str(uuid.UUID(bytes=bytes(kid)))


def parse_kid(text: str) -> bytes:
    """16 KID bytes from 32 hex digits or a dashed UUID."""
    s = text.strip()
    if "-" in s or s.startswith("{") or s.lower().startswith("urn:uuid:"):
        try:
            return uuid.UUID(s).bytes
        except ValueError:
            raise DrmError(f"KID {text!r} is not a valid UUID") from None
    if not _HEX.fullmatch(s):
        raise DrmError(f"KID {text!r} is not hexadecimal")
    if len(s) != 32:
        raise DrmError(f"KID {text!r} must be 32 hex digits (16 bytes), got {len(s)}")
    return bytes.fromhex(s)


def _parse_secret_hex(text: str, what: str, sizes: tuple[int, ...]) -> bytes:
    """Hex to bytes without ever putting the value into the error message."""
    s = text.strip()
    if not _HEX.fullmatch(s):
        raise DrmError(f"{what} is not hexadecimal")
    if len(s) not in tuple(2 * n for n in sizes):
        want = " or ".join(str(2 * n) for n in sizes)
        raise DrmError(f"{what} must be {want} hex digits, got {len(s)}")
    return bytes.fromhex(s)


def parse_key_arg(arg: str) -> ContentKey:
    """Parse an operator flag `--key LABEL:KID:KEY[:IV]` (hex; the KID may be a dashed UUID)."""
    parts = arg.split(":")
    if len(parts) not in (3, 4):
        raise DrmError(
            f"--key must be LABEL:KIDHEX:KEYHEX[:IVHEX] (got {len(parts)} colon-separated fields)"
        )
    label = parts[0].strip().upper()
    if label not in LABELS:
        raise DrmError(f"--key: unknown label {parts[0]!r}; expected one of {', '.join(LABELS)}")
    kid = parse_kid(parts[1])
    key = _parse_secret_hex(parts[2], f"--key {label}: content key", (16,))
    iv = _parse_secret_hex(parts[3], f"--key {label}: IV", (8, 16)) if len(parts) == 4 else None
    return ContentKey(label, kid, key, iv)


class StaticKeyProvider:
    """Keys given by the operator on the command line; the same keys for every title."""

    def __init__(self, keys: Iterable[ContentKey]):
        self._keys: dict[str, ContentKey] = {}
        for k in keys:
            if k.label in self._keys:
                raise DrmError(f"--key: label {k.label} given twice")
            self._keys[k.label] = k
        kids = [k.kid for k in self._keys.values()]
        if len(set(kids)) != len(kids):
            raise DrmError("--key: two labels share one KID; each label needs its own KID")

    @classmethod
    def from_args(cls, args: Sequence[str]) -> StaticKeyProvider:
        return cls(parse_key_arg(a) for a in args)

    @property
    def keys(self) -> Mapping[str, ContentKey]:
        return dict(self._keys)

    def keys_for(self, title_id: str, labels: Sequence[str]) -> dict[str, ContentKey]:
        missing = [lb for lb in labels if lb not in self._keys]
        if missing:
            have = ", ".join(self._keys) or "none"
            raise DrmError(
                f"{title_id}: no --key for label(s) {', '.join(missing)} (given: {have})"
            )
        out = {lb: self._keys[lb] for lb in labels}
        for k in out.values():
            log.debug("title %s: static key %s for %s", title_id, k.kid_uuid, k.label)
        return out


def label_for_height(height: int) -> str:
    """SD up to 576 lines, HD up to 1080, UHD above (picture height in pixels)."""
    if height <= 0:
        raise DrmError(f"video height must be positive, got {height}")
    if height <= SD_MAX_HEIGHT:
        return "SD"
    if height <= HD_MAX_HEIGHT:
        return "HD"
    return "UHD"


def label_for(kind: str, height: int | None = None) -> str:
    """The key label of a track: AUDIO for audio, by height for video."""
    if kind == "audio":
        return "AUDIO"
    if kind == "video":
        if not height:
            raise DrmError("a video track needs its height to pick a key label")
        return label_for_height(height)
    raise DrmError(f"{kind} tracks are not encrypted")
