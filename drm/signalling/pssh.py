"""PSSH boxes: build them per DRM system, decode any found in the wild, and signal them in
HLS and DASH manifests.

One builder (`system_pssh_boxes`) feeds the init segment, the HLS key lines and the DASH
ContentProtection elements, so the three always carry the same bytes. Box versions follow
Shaka Packager: Widevine and PlayReady version 0 (some older PlayReady devices reject
version 1), the W3C Common PSSH version 1 (it must list its KIDs).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from drm.keys import DrmError, kid_uuid
from drm.signalling import fairplay
from drm.signalling.playready import decode_pro, parse_wrm_header, playready_object
from drm.signalling.systems import (
    CLEARKEY_DASH_UUID,
    COMMON_ID,
    COMMON_UUID,
    MP4PROTECTION_SCHEME,
    PLAYREADY_ID,
    PLAYREADY_UUID,
    WIDEVINE_ID,
    WIDEVINE_UUID,
    system_name,
    urn,
)
from drm.signalling.widevine import ALGORITHMS, WidevinePsshData, widevine_pssh_data
from pipeline.manifest.dash import NS_CENC, NS_DASHIF, NS_MPD, NSMAP
from pipeline.mp4.base import parse_box, read_header
from pipeline.mp4.boxes import Pssh
from pipeline.mp4.fields import BoxFormatError

# Where `vod serve` answers ClearKey licences (POST, W3C JSON) and delivers keys for HLS
# "identity" key URIs (GET .../{kid hex}).
CLEARKEY_LICENSE_PATH = "/license/clearkey"

__all__ = [
    "SYSTEMS",
    "pssh_box",
    "common_pssh",
    "widevine_pssh",
    "playready_pssh",
    "system_pssh_boxes",
    "parse_pssh_boxes",
    "decode",
    "format_decoded",
    "pssh_decode_command",
    "hls_method",
    "hls_key_lines",
    "session_key_lines",
    "dash_content_protection",
]

SYSTEMS = ("widevine", "playready", "fairplay", "clearkey")
_METHODS = {"cbcs": "SAMPLE-AES", "cenc": "SAMPLE-AES-CTR"}
_NS_MSPR = NSMAP["mspr"]


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
    _check_scheme(scheme)
    out: dict[str, bytes] = {}
    for system in _systems(systems):
        if system == "widevine":
            out[system] = widevine_pssh([kid], scheme)
        elif system == "playready":
            out[system] = playready_pssh(kid, scheme, key=key, la_url=_url(la_url, system))
        elif system == "clearkey":
            out[system] = common_pssh([kid])
    return out


# --- decoding -------------------------------------------------------------------------------


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


def decode(blob: bytes | str) -> list[dict[str, Any]]:
    """Decode base64 (or hex, or a data: URI) text or raw bytes holding one or more pssh
    boxes, an MP4 init segment, or a PlayReady Object (base64 of `mspr:pro`).

    Per box: system, system_id, version, kids (UUID form) and `data` decoded for Widevine
    (protobuf fields) and PlayReady (WRMHEADER fields); W3C Common data is empty. A box whose
    data cannot be decoded gets an `error` entry instead of failing the whole call.
    """
    raw = _text_to_bytes(blob) if isinstance(blob, str) else bytes(blob)
    if not raw:
        raise DrmError("nothing to decode: empty input")
    if _looks_like_boxes(raw):
        try:
            boxes = parse_pssh_boxes(raw)
        except BoxFormatError as e:
            raise DrmError(f"malformed MP4 box data: {e}") from None
        if not boxes:
            raise DrmError("the MP4 data holds no pssh box")
        return [_describe_box(b) for b in boxes]
    if raw[:2] in (b"<\x00", b"\xff\xfe"):
        header = parse_wrm_header(raw.decode("utf-16-le").lstrip("\ufeff"))
        return [_playready_entry(None, {"records": [{"type": 1, "header": header}]})]
    if len(raw) >= 6 and int.from_bytes(raw[:4], "little") == len(raw):
        return [_playready_entry(None, decode_pro(raw))]
    raise DrmError("not a pssh box, an MP4 init segment or a PlayReady Object")


def _describe_box(box: Pssh) -> dict[str, Any]:
    system_id = bytes(box.system_id)
    data = bytes(box.data or b"")
    entry: dict[str, Any] = {
        "system": system_name(system_id),
        "system_id": kid_uuid(system_id),
        "version": box.version,
        "kids": [kid_uuid(k["kid"]) for k in (box.kids or [])],
        "data_size": len(data),
    }
    try:
        if system_id == WIDEVINE_ID:
            entry["data"] = _describe_widevine(WidevinePsshData.parse(data))
        elif system_id == PLAYREADY_ID:
            return _playready_entry(box.version, decode_pro(data), entry)
        elif system_id == COMMON_ID and not data:
            entry["data"] = {}
        else:
            entry["data"] = {"raw_hex": data.hex()}
    except DrmError as e:
        entry["data"] = {"raw_hex": data.hex()}
        entry["error"] = e.cause
    return entry


def _describe_widevine(msg: WidevinePsshData) -> dict[str, Any]:
    out: dict[str, Any] = {"key_ids": [_kid_or_hex(k) for k in msg.key_ids]}
    if msg.algorithm is not None:
        out["algorithm"] = ALGORITHMS.get(msg.algorithm, str(msg.algorithm))
    if msg.provider is not None:
        out["provider"] = msg.provider
    if msg.content_id is not None:
        out["content_id"] = msg.content_id.hex()
        text = _printable(msg.content_id)
        if text is not None:
            out["content_id_text"] = text
    if msg.policy is not None:
        out["policy"] = msg.policy
    if msg.crypto_period_index is not None:
        out["crypto_period_index"] = msg.crypto_period_index
    if msg.protection_scheme is not None:
        out["protection_scheme"] = msg.protection_scheme
    if msg.unknown:
        out["unknown_fields"] = [
            {"field": n, "value": v.hex() if isinstance(v, bytes) else v}
            for n, _w, v in msg.unknown
        ]
    return out


def _playready_entry(
    version: int | None, pro: dict[str, Any], entry: dict[str, Any] | None = None
) -> dict[str, Any]:
    entry = dict(entry or {})
    entry.setdefault("system", "PlayReady")
    entry.setdefault("system_id", PLAYREADY_UUID)
    entry.setdefault("version", version)
    headers = [r["header"] for r in pro["records"] if "header" in r]
    if not entry.get("kids"):
        entry["kids"] = [k["kid"] for h in headers for k in h["kids"]]
    entry["data"] = {**(headers[0] if headers else {}), "records": pro["records"]}
    return entry


def format_decoded(entries: Sequence[Mapping[str, Any]]) -> str:
    """Human-readable report of `decode()` output, one block per box."""
    lines: list[str] = []
    for i, e in enumerate(entries, 1):
        version = "" if e.get("version") is None else f", pssh version {e['version']}"
        source = "" if e.get("version") is not None or "data_size" in e else " (PlayReady Object)"
        lines.append(f"[{i}] {e['system']} {e['system_id']}{version}{source}")
        for kid in e.get("kids", []):
            lines.append(f"    KID: {kid}")
        data = e.get("data") or {}
        if e.get("error"):
            lines.append(f"    data could not be decoded: {e['error']}")
            lines.append(f"    data (hex): {data.get('raw_hex', '')}")
        elif e["system"] == "Widevine":
            lines += _format_widevine(data)
        elif e["system"] == "PlayReady":
            lines += _format_playready(data)
        elif data.get("raw_hex"):
            lines.append(f"    data (hex): {data['raw_hex']}")
        elif "data_size" in e:
            lines.append("    data: (empty)")
    return "\n".join(lines) + "\n"


def _format_widevine(data: Mapping[str, Any]) -> list[str]:
    out = ["    Widevine PSSH data:"]
    for kid in data.get("key_ids", []):
        out.append(f"      key_id: {kid}")
    for name in ("algorithm", "provider", "content_id", "content_id_text", "policy"):
        if name in data:
            out.append(f"      {name}: {data[name]}")
    for name in ("crypto_period_index", "protection_scheme"):
        if name in data:
            out.append(f"      {name}: {data[name]}")
    for u in data.get("unknown_fields", []):
        out.append(f"      field {u['field']}: {u['value']}")
    return out


def _format_playready(data: Mapping[str, Any]) -> list[str]:
    out = []
    for n, rec in enumerate(data.get("records", []), 1):
        out.append(f"    record {n}: type {rec['type']} ({rec.get('type_name', '')})")
        h = rec.get("header")
        if not h:
            continue
        out.append(f"      WRMHEADER version {h['version']}")
        for k in h["kids"]:
            extra = "".join(
                f", {name} {k[key]}"
                for name, key in (("ALGID", "algid"), ("CHECKSUM", "checksum"))
                if k.get(key)
            )
            out.append(f"      KID: {k['kid']} (header value {k['value']}{extra})")
        for name in ("la_url", "lui_url", "ds_id"):
            if h.get(name):
                out.append(f"      {name.upper()}: {h[name]}")
    return out


def pssh_decode_command(arg: str) -> str:
    """`vod pssh decode BASE64|FILE`: a file (binary MP4/pssh/PRO, or text holding base64)
    or base64 text on the command line; returns the report text."""
    path = _as_file(arg)
    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise DrmError(f"cannot read: {e.strerror}", str(path)) from None
        text = _ascii_text(raw)
        try:
            entries = decode(text if text is not None else raw)
        except DrmError as e:
            raise DrmError(e.cause, str(path)) from None
    else:
        entries = decode(arg)
    return format_decoded(entries)


def _as_file(arg: str) -> Path | None:
    try:
        p = Path(arg)
        return p if p.is_file() else None
    except (OSError, ValueError):  # a long base64 string is not a valid file name
        return None


def _ascii_text(raw: bytes) -> str | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text.strip() and all(c in string.printable for c in text) else None


_FOURCC_BYTES = frozenset((string.ascii_letters + string.digits + " -").encode())
_DATA_URI = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


def _text_to_bytes(text: str) -> bytes:
    s = _DATA_URI.sub("", text.strip().strip('"'))
    s = "".join(s.split())
    if not s:
        raise DrmError("nothing to decode: empty input")
    b64 = s.replace("-", "+").replace("_", "/")
    b64 += "=" * (-len(b64) % 4)
    candidates = []
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(b64, validate=True))
    if re.fullmatch(r"(0x)?[0-9a-fA-F]+", s) and len(s.removeprefix("0x")) % 2 == 0:
        candidates.append(bytes.fromhex(s.removeprefix("0x")))
    for raw in candidates:  # base64 first; hex when the base64 reading makes no sense
        if _looks_like_boxes(raw) or _looks_like_pro(raw):
            return raw
    if candidates:
        return candidates[0]
    raise DrmError("input is neither base64 nor hex")


def _looks_like_boxes(raw: bytes) -> bool:
    """A box header: a plausible size and a printable 4CC (a PRO starts with LE numbers)."""
    if len(raw) < 8 or not all(c in _FOURCC_BYTES for c in raw[4:8]):
        return False
    size = int.from_bytes(raw[:4], "big")
    return size in (0, 1) or size >= 8


def _looks_like_pro(raw: bytes) -> bool:
    return len(raw) >= 6 and int.from_bytes(raw[:4], "little") == len(raw)


def _kid_or_hex(kid: bytes) -> str:
    return kid_uuid(kid) if len(kid) == 16 else kid.hex()


def _printable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None


# --- manifests ------------------------------------------------------------------------------


def hls_method(scheme: str) -> str:
    """cbcs -> SAMPLE-AES, cenc -> SAMPLE-AES-CTR."""
    _check_scheme(scheme)
    return _METHODS[scheme]


def hls_key_lines(
    systems: str | Iterable[str],
    scheme: str,
    kid: bytes,
    *,
    key: bytes | None = None,
    la_url: str | Mapping[str, str] | None = None,
    skd_uri: str | None = None,
    tag: str = "EXT-X-KEY",
) -> list[str]:
    """One key line per system, for a media (or I-frame) playlist.

    Widevine: URI = data: URI of its pssh box, KEYFORMAT = its urn:uuid, plus KEYID (read by
    hls.js). PlayReady: URI = data:...charset=UTF-16 base64 PRO, KEYFORMAT
    com.microsoft.playready. FairPlay (cbcs only): `skd_uri`, default skd://{kid_hex}.
    ClearKey: HLS has no ClearKey KEYFORMAT of its own; players (Shaka) treat KEYFORMAT
    "identity" with SAMPLE-AES(-CTR) as ClearKey and GET the raw 16-byte key from URI, so the
    URI is a key-delivery URL: `{licence URL}/{kid hex}` (default: `vod serve`'s
    /license/clearkey/{kid hex}). The key itself never goes into a playlist.
    """
    method = hls_method(scheme)
    boxes = system_pssh_boxes([s for s in _systems(systems) if s == "widevine"], scheme, kid)
    keyid = f"0x{kid.hex().upper()}"
    lines: list[str] = []
    for system in _systems(systems):
        if system == "widevine":
            uri = "data:text/plain;base64," + _b64(boxes["widevine"])
            lines.append(_key_line(tag, method, uri, urn(WIDEVINE_UUID), keyid))
        elif system == "playready":
            pro = playready_object(kid, scheme, key=key, la_url=_url(la_url, system))
            uri = "data:text/plain;charset=UTF-16;base64," + _b64(pro)
            lines.append(_key_line(tag, method, uri, "com.microsoft.playready"))
        elif system == "fairplay":
            if scheme != "cbcs":
                raise DrmError("FairPlay needs the cbcs scheme (METHOD=SAMPLE-AES)")
            lines.append(fairplay.ext_x_key_line(skd_uri or fairplay.skd_uri(kid), tag=tag))
        elif system == "clearkey":
            base = (_url(la_url, system) or CLEARKEY_LICENSE_PATH).rstrip("/")
            lines.append(_key_line(tag, method, f"{base}/{kid.hex()}", "identity", keyid))
    return lines


def session_key_lines(
    systems: str | Iterable[str], scheme: str, kid: bytes, **options: Any
) -> list[str]:
    """The master playlist's EXT-X-SESSION-KEY copies of `hls_key_lines`."""
    return hls_key_lines(systems, scheme, kid, tag="EXT-X-SESSION-KEY", **options)


def _key_line(tag: str, method: str, uri: str, keyformat: str, keyid: str | None = None) -> str:
    if '"' in uri or "\n" in uri:
        raise DrmError(f"key URI {uri!r} cannot be quoted in a playlist")
    keyid_attr = f",KEYID={keyid}" if keyid else ""
    return (
        f'#{tag}:METHOD={method},URI="{uri}"{keyid_attr},'
        f'KEYFORMAT="{keyformat}",KEYFORMATVERSIONS="1"'
    )


def dash_content_protection(
    scheme: str,
    default_kid: bytes,
    systems: Iterable[str],
    keys: Mapping[bytes, bytes] | None = None,
    la_url: str | Mapping[str, str] | None = None,
) -> list[etree._Element]:
    """ContentProtection elements for one AdaptationSet/Representation, in MPD order:
    the mp4protection descriptor with cenc:default_KID, then one element per system with its
    cenc:pssh (PlayReady also mspr:pro). ClearKey gives two: the DASH-IF ClearKey1.0 scheme
    with dashif:laurl, and the W3C Common PSSH. `keys` maps KID -> key, for the PlayReady
    cenc CHECKSUM only. The elements carry the MPD writer's namespace map."""
    systems = _systems(systems)
    if "fairplay" in systems:
        raise DrmError("FairPlay is signalled in HLS only; drop it from the DASH systems")
    key = (keys or {}).get(default_kid)
    boxes = system_pssh_boxes(systems, scheme, default_kid, key=key, la_url=la_url)

    out = [_cp(MP4PROTECTION_SCHEME, scheme)]
    out[0].set(f"{{{NS_CENC}}}default_KID", kid_uuid(default_kid))
    for system in systems:
        if system == "widevine":
            cp = _cp(urn(WIDEVINE_UUID))
            _sub(cp, NS_CENC, "pssh", _b64(boxes[system]))
            out.append(cp)
        elif system == "playready":
            cp = _cp(urn(PLAYREADY_UUID), "MSPR 2.0")
            _sub(cp, NS_CENC, "pssh", _b64(boxes[system]))
            pro = playready_object(default_kid, scheme, key=key, la_url=_url(la_url, system))
            _sub(cp, _NS_MSPR, "pro", _b64(pro))
            out.append(cp)
        elif system == "clearkey":
            cp = _cp(urn(CLEARKEY_DASH_UUID), "ClearKey1.0")
            if url := _url(la_url, system):
                _sub(cp, NS_DASHIF, "laurl", url)
            out.append(cp)
            common = _cp(urn(COMMON_UUID))
            _sub(common, NS_CENC, "pssh", _b64(boxes[system]))
            out.append(common)
    return out


def _cp(scheme_id_uri: str, value: str | None = None) -> etree._Element:
    el = etree.Element(f"{{{NS_MPD}}}ContentProtection", nsmap=NSMAP)
    el.set("schemeIdUri", scheme_id_uri)
    if value is not None:
        el.set("value", value)
    return el


def _sub(parent: etree._Element, ns: str, tag: str, text: str) -> None:
    etree.SubElement(parent, f"{{{ns}}}{tag}").text = text


# --- shared ---------------------------------------------------------------------------------


def _systems(systems: str | Iterable[str]) -> list[str]:
    names = [systems] if isinstance(systems, str) else list(systems)
    out: list[str] = []
    for name in names:
        s = name.strip().lower()
        if s not in SYSTEMS:
            raise DrmError(f"unknown DRM system {name!r}; expected one of {', '.join(SYSTEMS)}")
        if s not in out:
            out.append(s)
    return out


def _check_scheme(scheme: str) -> None:
    if scheme not in _METHODS:
        raise DrmError(f"protection scheme must be cenc or cbcs, not {scheme!r}")


def _url(la_url: str | Mapping[str, str] | None, system: str) -> str | None:
    if la_url is None or isinstance(la_url, str):
        return la_url
    return la_url.get(system)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
