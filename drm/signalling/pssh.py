"""PSSH boxes: one builder per DRM system, and a reader for the boxes in MP4 data.

One builder (`system_pssh_boxes`) feeds the init segment, the HLS key lines
(`drm.signalling.hls`) and the DASH ContentProtection elements (`drm.signalling.dash`), so
the three always carry the same bytes. Box versions follow Shaka Packager: Widevine and
PlayReady version 0 (some older PlayReady devices reject version 1), the W3C Common PSSH
version 1 (it must list its KIDs).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from drm.keys import DrmError
from drm.signalling.playready import playready_object
from drm.signalling.systems import COMMON_ID, PLAYREADY_ID, WIDEVINE_ID
from drm.signalling.widevine import widevine_pssh_data
from pipeline.mp4.base import parse_box, read_header
from pipeline.mp4.boxes import Pssh

__all__ = [
    "SYSTEMS",
    "pssh_box",
    "common_pssh",
    "widevine_pssh",
    "playready_pssh",
    "system_pssh_boxes",
    "parse_pssh_boxes",
    "system_list",
    "check_scheme",
    "url_for",
    "b64",
]

SYSTEMS = ("widevine", "playready", "fairplay", "clearkey")
SCHEMES = ("cenc", "cbcs")


# --- building -------------------------------------------------------------------------------


def pssh_box(
    system_id: bytes, kids: Sequence[bytes] = (), data: bytes = b"", version: int | None = None
) -> bytes:
    """A `pssh` box; version defaults to 1 when KIDs are given, else 0."""
    if len(system_id) != 16:
        raise DrmError("system ID must be 16 bytes")
    if version is None:
        version = 1 if kids else 0
    if version not in (0, 1):
        raise DrmError(f"pssh version {version} is not defined (0 or 1)")
    if version == 0 and kids:
        raise DrmError("a version 0 pssh box cannot list KIDs; use version 1")
    for kid in kids:
        if len(kid) != 16:
            raise DrmError("every KID must be 16 bytes")
    box = Pssh(version=version, system_id=bytes(system_id), data=bytes(data))
    if version == 1:
        box.kids = [{"kid": bytes(k)} for k in kids]
    return box.to_bytes()


def common_pssh(kids: Sequence[bytes]) -> bytes:
    """W3C Common PSSH (ClearKey): version 1, the KIDs listed, no data."""
    if not kids:
        raise DrmError("the W3C Common PSSH must list at least one KID")
    return pssh_box(COMMON_ID, kids, b"", 1)


def widevine_pssh(kids: Sequence[bytes], scheme: str, **fields: Any) -> bytes:
    """Widevine version 0 box with the KIDs in its protobuf data (provider=, content_id=...)."""
    return pssh_box(WIDEVINE_ID, (), widevine_pssh_data(list(kids), scheme, **fields), 0)


def playready_pssh(
    kid: bytes, scheme: str, *, key: bytes | None = None, la_url: str | None = None
) -> bytes:
    """PlayReady version 0 box whose data is the PlayReady Object."""
    return pssh_box(PLAYREADY_ID, (), playready_object(kid, scheme, key=key, la_url=la_url), 0)


def system_pssh_boxes(
    systems: Iterable[str],
    scheme: str,
    kid: bytes,
    *,
    key: bytes | None = None,
    la_url: str | Mapping[str, str] | None = None,
) -> dict[str, bytes]:
    """{system: pssh box} for the init segment's `moov` (FairPlay has none: HLS only).

    `key` only feeds the PlayReady cenc CHECKSUM; `la_url` (one URL, or one per system)
    only the PlayReady LA_URL.
    """
    check_scheme(scheme)
    out: dict[str, bytes] = {}
    for system in system_list(systems):
        if system == "widevine":
            out[system] = widevine_pssh([kid], scheme)
        elif system == "playready":
            out[system] = playready_pssh(kid, scheme, key=key, la_url=url_for(la_url, system))
        elif system == "clearkey":
            out[system] = common_pssh([kid])
    return out


# --- reading -------------------------------------------------------------------------------


def parse_pssh_boxes(data: bytes) -> list[Pssh]:
    """Every pssh box in `data`: concatenated boxes or a whole init segment (moov, moof)."""
    found: list[Pssh] = []
    off = 0
    while off < len(data):
        box_type, _hdr, size = read_header(data, off)
        if box_type in ("pssh", "moov", "moof"):
            box, _ = parse_box(data, off)
            found += _walk_pssh(box)
        off += size
    return found


def _walk_pssh(box: Any) -> list[Pssh]:
    if isinstance(box, Pssh):
        return [box]
    return [p for child in box.children for p in _walk_pssh(child)]


# --- shared by the box builders and the manifest signalling --------------------------------


def system_list(systems: str | Iterable[str]) -> list[str]:
    """Known system names, lower case, in order, each once; an unknown name is an error."""
    names = [systems] if isinstance(systems, str) else list(systems)
    out: list[str] = []
    for name in names:
        s = name.strip().lower()
        if s not in SYSTEMS:
            raise DrmError(f"unknown DRM system {name!r}; expected one of {', '.join(SYSTEMS)}")
        if s not in out:
            out.append(s)
    return out


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise DrmError(f"protection scheme must be cenc or cbcs, not {scheme!r}")


def url_for(la_url: str | Mapping[str, str] | None, system: str) -> str | None:
    """One licence URL for every system, or the one given for `system`."""
    if la_url is None or isinstance(la_url, str):
        return la_url
    return la_url.get(system)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
