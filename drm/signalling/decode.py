"""`vod pssh decode`: read PSSH boxes, init segments and PlayReady Objects found in the wild.

Input may be base64 (or hex, or a `data:` URI) text, raw bytes or a file. Per box it reports
the system, version, KIDs and the data decoded: Widevine protobuf fields, PlayReady
WRMHEADER fields; a box whose data cannot be decoded is reported, not fatal.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drm.keys import DrmError, kid_uuid
from drm.signalling.playready import decode_pro, parse_wrm_header
from drm.signalling.pssh import parse_pssh_boxes
from drm.signalling.systems import COMMON_ID, PLAYREADY_ID, PLAYREADY_UUID, WIDEVINE_ID, system_name
from drm.signalling.widevine import ALGORITHMS, WidevinePsshData
from pipeline.mp4.boxes import Pssh
from pipeline.mp4.fields import BoxFormatError

__all__ = ["decode", "format_decoded", "pssh_decode_command"]


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
