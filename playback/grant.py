"""What a playback session may fetch from the CDN, as the signed `data` of its CDN token.

The origin gateway filters a session's manifests with no lookup: the token it already checks
carries the renditions the session may play, the content-key IDs it may have, and where its
keys are delivered (the session's own key route on the API, with the session credential), so
HLS key URIs can point there. The payload must be free of `~` (the token's field separator):

    g1.<renditions>.<kids>.<key base URL>.<credential>

each part base64url without padding: the comma-joined sorted rendition ids, the KIDs (16 bytes
each, sorted, concatenated; empty for a clear title), and the two URL parts as UTF-8.
Decoding is strict: anything else is a ValueError, which the gateway answers 403 malformed.

Pure functions; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

VERSION = "g1"
KID_BYTES = 16
MAX_KIDS = 64
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_B64 = re.compile(r"^[A-Za-z0-9_-]*$")
_KEY_BASE = re.compile(r"^https?://[^\s\"'<>?#]+$")
_CREDENTIAL = re.compile(r"^[\x21-\x7e]{1,2000}$")  # printable ASCII, no space


@dataclass(frozen=True)
class SessionGrant:
    """Renditions, KIDs and key delivery of one session, as the gateway reads them."""

    renditions: frozenset[str]
    kids: frozenset[bytes]
    key_base: str  # `{api}/playback/v1/sessions/{sid}/keys`
    credential: str  # the session credential, unquoted

    def key_uri(self, kid: bytes) -> str:
        """Where a player GETs the raw key of `kid` (HLS "identity" key delivery)."""
        return f"{self.key_base}/{kid.hex()}?auth={quote(self.credential, safe='')}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(part: str) -> bytes:
    if not _B64.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("grant part is not base64url")
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("grant part is not base64url") from None
    if _b64(raw) != part:  # one spelling per value: no stray padding bits
        raise ValueError("grant part is not canonical base64url")
    return raw


def _check(renditions: frozenset[str], kids: frozenset[bytes], key_base: str, cred: str) -> None:
    if not renditions or not all(_ID.match(r) for r in renditions):
        raise ValueError("rendition ids must be non-empty and plain")
    if len(kids) > MAX_KIDS or any(len(k) != KID_BYTES for k in kids):
        raise ValueError(f"a grant holds at most {MAX_KIDS} KIDs of {KID_BYTES} bytes")
    if not key_base.isascii() or not _KEY_BASE.match(key_base):
        raise ValueError("the key base must be an http(s) URL without query or quotes")
    if not _CREDENTIAL.match(cred):
        raise ValueError("the credential must be printable ASCII")


def encode_grant(
    renditions: Iterable[str], kids: Iterable[bytes], key_base: str, credential: str
) -> str:
    """The token `data` payload for a session (see the module docstring)."""
    ids, keys = frozenset(renditions), frozenset(kids)
    _check(ids, keys, key_base, credential)
    parts = (
        ",".join(sorted(ids)).encode(),
        b"".join(sorted(keys)),
        key_base.encode(),
        credential.encode(),
    )
    return ".".join((VERSION, *(_b64(p) for p in parts)))


def decode_grant(data: str) -> SessionGrant:
    """The grant in a token `data` payload; ValueError unless it is exactly one."""
    parts = data.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        raise ValueError("token data is not a session grant")
    ids_raw, kids_raw, base_raw, cred_raw = (_unb64(p) for p in parts[1:])
    if len(kids_raw) % KID_BYTES:
        raise ValueError("grant KIDs are not whole 16-byte ids")
    try:
        ids = ids_raw.decode("ascii").split(",")
        key_base, credential = base_raw.decode("ascii"), cred_raw.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("grant text is not ASCII") from None
    kids = [kids_raw[i : i + KID_BYTES] for i in range(0, len(kids_raw), KID_BYTES)]
    if len(set(ids)) != len(ids) or len(set(kids)) != len(kids):
        raise ValueError("grant lists a rendition or KID twice")
    grant = SessionGrant(frozenset(ids), frozenset(kids), key_base, credential)
    _check(grant.renditions, grant.kids, key_base, credential)
    return grant
