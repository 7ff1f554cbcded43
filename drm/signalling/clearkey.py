"""W3C ClearKey: the Common PSSH that signals it and the JSON licence exchange (EME spec 9.1).

Request:  {"kids": ["<b64url KID>", ...], "type": "temporary"}
Response: {"keys": [{"kty": "oct", "kid": "<b64url>", "k": "<b64url>"}], "type": "temporary"}
base64url without padding, as the spec requires. Only the KIDs asked for are answered, so a
licence endpoint never hands out keys of other tracks. For development and tests: ClearKey
keys reach the browser in the clear.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from drm.keys import DrmError
from drm.signalling.pssh import common_pssh

__all__ = [
    "CLEARKEY_LICENSE_PATH",
    "ClearKeyRequestError",
    "common_pssh",
    "b64url",
    "b64url_decode",
    "license_request",
    "license_response",
]

# Where `vod serve` answers ClearKey licences (POST, W3C JSON) and delivers keys for HLS
# "identity" key URIs (GET .../{kid hex}).
CLEARKEY_LICENSE_PATH = "/license/clearkey"

_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
MAX_KIDS = 64  # a real request names a handful; refuse absurd ones


class ClearKeyRequestError(DrmError, ValueError):
    """A malformed licence request: the caller answers 400 Bad Request."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """base64url with or without padding (players differ); rejects other alphabets."""
    s = text.strip()
    if not _B64URL.fullmatch(s):
        raise ClearKeyRequestError(f"{text!r} is not base64url")
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ClearKeyRequestError(f"{text!r} is not base64url") from None


def license_request(kids: Sequence[bytes]) -> bytes:
    """The JSON a CDM sends for these KIDs (for tests and scripted clients)."""
    return json.dumps({"kids": [b64url(k) for k in kids], "type": "temporary"}).encode()


def license_response(request_json: bytes | str, keys: Mapping[bytes, bytes]) -> dict[str, Any]:
    """The JWK set answering a licence request from `keys` (KID -> content key).

    KIDs we do not hold are left out (the CDM then reports the key as missing).
    """
    kids = requested_kids(request_json)
    jwks = [
        {"kty": "oct", "kid": b64url(kid), "k": b64url(keys[kid])} for kid in kids if kid in keys
    ]
    return {"keys": jwks, "type": "temporary"}


def requested_kids(request_json: bytes | str) -> list[bytes]:
    try:
        req = json.loads(request_json)
    except (ValueError, TypeError):
        raise ClearKeyRequestError("licence request is not JSON") from None
    if not isinstance(req, dict):
        raise ClearKeyRequestError("licence request must be a JSON object")
    kids = req.get("kids")
    if not isinstance(kids, list) or not kids:
        raise ClearKeyRequestError('licence request needs a non-empty "kids" list')
    if len(kids) > MAX_KIDS:
        raise ClearKeyRequestError(f"licence request names {len(kids)} KIDs (max {MAX_KIDS})")
    kind = req.get("type", "temporary")
    if kind != "temporary":
        raise ClearKeyRequestError(f'only "temporary" licences are issued, not {kind!r}')
    out: list[bytes] = []
    for i, item in enumerate(kids):
        if not isinstance(item, str):
            raise ClearKeyRequestError(f"kids[{i}] must be a base64url string")
        kid = b64url_decode(item)
        if len(kid) != 16:
            raise ClearKeyRequestError(f"kids[{i}] is {len(kid)} bytes, a KID has 16")
        if kid not in out:
            out.append(kid)
    return out
