"""CMCD (CTA-5004, v1 and v2) reports from players, in the three forms they travel in:

* query argument: `?CMCD=<dictionary>` on a request (request mode, or a beacon);
* headers: the keys split over `CMCD-Object`, `CMCD-Request`, `CMCD-Session`, `CMCD-Status`;
* event-mode body (v2, `Content-Type: application/cmcd`): one dictionary per line.

Each dictionary is an RFC 8941 structured-field Dictionary, parsed by `http_sf` (the reference
implementation of the RFC's author). Values become plain Python: tokens -> str, inner lists
(v2 `br=(2138)`) -> lists, bare keys -> True. Keys outside the CMCD key set are dropped unless
they are custom keys (a hyphenated prefix, `com.example-x`). Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import http_sf

from core.errors import BadInput

HEADER_NAMES = ("CMCD-Object", "CMCD-Request", "CMCD-Session", "CMCD-Status")
MAX_FIELD_BYTES = 8 * 1024
MAX_BODY_LINES = 200
# v1 keys (REFERENCE.md section 7) plus the v2 keys shaka-player 5 and dash.js 5 send.
V1_KEYS = frozenset(
    [
        "br",
        "bl",
        "bs",
        "cid",
        "d",
        "dl",
        "mtp",
        "nor",
        "nrr",
        "ot",
        "pr",
        "rtp",
        "sf",
        "sid",
        "st",
        "su",
        "tb",
        "v",
    ]
)
KEYS = V1_KEYS | frozenset(
    [
        "ab",
        "tbl",
        "cdn",
        "ltc",
        "bg",
        "sta",
        "ts",
        "tpb",
        "lb",
        "tab",
        "lab",
        "pt",
        "ec",
        "msd",
        "sn",
        "e",
        "rc",
        "ttfb",
        "ttfbb",
        "ttlb",
        "url",
        "cmsdd",
        "cmsds",
        "df",
    ]
)
STRING_LIMITS = {"sid": 64, "cid": 128}


class CmcdError(BadInput):
    """A report that is not CMCD: the message says which part and why (HTTP 400)."""

    status = 400

    def __init__(self, cause: str) -> None:
        super().__init__(None, cause, reason="bad_cmcd")


def _plain(value: Any) -> Any:
    if isinstance(value, http_sf.Token):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        return _plain(value[0])  # (item, parameters)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value


def parse_dictionary(text: str, where: str = "CMCD") -> dict[str, Any]:
    """One CMCD dictionary (`br=3200,bs,sid="x"`) as {key: plain value}."""
    raw = text.strip()
    if not raw:
        return {}
    if len(raw.encode("utf-8", "replace")) > MAX_FIELD_BYTES:
        raise CmcdError(f"{where}: longer than {MAX_FIELD_BYTES} bytes")
    try:
        parsed = http_sf.parse(raw.encode("utf-8"), tltype="dictionary")
    except Exception as e:  # http_sf raises ValueError subclasses with the position
        raise CmcdError(f"{where}: not an RFC 8941 dictionary: {e}") from None
    out: dict[str, Any] = {}
    for key, member in parsed.items():
        if key not in KEYS and "-" not in key:
            continue
        value = _plain(member)
        limit = STRING_LIMITS.get(key)
        if limit is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
            raise CmcdError(f"{where}: {key} must be a string of 1..{limit} characters")
        out[key] = value
    return out


def from_query(values: Iterable[str]) -> list[dict[str, Any]]:
    """Reports from `CMCD=` query arguments (already percent-decoded)."""
    return [r for v in values if (r := parse_dictionary(v, "CMCD query argument"))]


def from_headers(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    """One report from the CMCD-* request headers, or none when there are none."""
    lower = {k.lower(): v for k, v in headers.items()}
    merged: dict[str, Any] = {}
    for name in HEADER_NAMES:
        value = lower.get(name.lower())
        if value:
            merged.update(parse_dictionary(value, f"{name} header"))
    return [merged] if merged else []


def from_body(body: bytes) -> list[dict[str, Any]]:
    """Event-mode reports: one dictionary per line (blank lines ignored)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CmcdError("CMCD body is not UTF-8") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > MAX_BODY_LINES:
        raise CmcdError(f"CMCD body has {len(lines)} reports (max {MAX_BODY_LINES})")
    return [r for i, ln in enumerate(lines, 1) if (r := parse_dictionary(ln, f"CMCD line {i}"))]


def bitrate_kbps(report: Mapping[str, Any]) -> float | None:
    """The encoded bitrate of the report (`br`; v2 sends an inner list, one per object type)."""
    br = report.get("br")
    if isinstance(br, list):
        br = next((v for v in br if isinstance(v, int | float)), None)
    return (
        float(br) if isinstance(br, int | float) and not isinstance(br, bool) and br > 0 else None
    )
