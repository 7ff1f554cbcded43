"""CDN access tokens: Akamai-style HMAC tokens and CloudFront signed URLs.

Akamai-style token (REFERENCE.md section 8)::

    st=<start>~exp=<expiry>~acl=<path glob>[~id=<session>][~data=<payload>]~hmac=<hex>

The HMAC (SHA-256) covers everything before `~hmac=`. An ACL is one or more globs
joined by `!`; a glob ending in `*` matches that prefix (`/title/*` covers
`/title/...` only), any other glob must match the path exactly. `data` is an
opaque signed payload: playback sessions put the renditions the session may play
there, so the origin can filter manifests without asking anyone.

How the token travels to the origin gateway (`vod serve --gateway`):

* query parameter `hdnts=<token>` on a URL; players drop it for the relative
  segment URLs inside playlists, so this suits single requests only;
* "token in path" style: `/__token__/<percent-encoded token>/title/master.m3u8`.
  Playlists and MPDs reference segments relatively, so a player resolving them
  against the manifest URL keeps the prefix on every request. This is the style
  `signed_url` produces by default.

Pure module: no I/O, the caller passes `now`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from core.errors import Refused

TOKEN_PARAM = "hdnts"
PATH_PREFIX = "/__token__/"
_FIELDS = ("st", "exp", "acl", "id", "data")
REASONS = ("malformed", "expired", "not_yet_valid", "bad_signature", "out_of_scope")


class TokenError(Refused):
    """A token was refused; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(None, f"{reason}: {detail}" if detail else reason, reason=reason)


def _mac(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def _field_ok(value: str | None) -> bool:
    return value is None or (bool(value) and "~" not in value)


def sign_token(
    secret: bytes,
    acl: str,
    *,
    start: int,
    lifetime: int,
    session_id: str | None = None,
    data: str | None = None,
) -> str:
    """A token valid from `start` (epoch seconds) for `lifetime` seconds, for paths in `acl`."""
    if lifetime <= 0:
        raise ValueError("lifetime must be positive")
    if not acl or not all(_field_ok(v) for v in (acl, session_id, data)):
        raise ValueError("acl, session id and data must be non-empty and free of '~'")
    message = f"st={int(start)}~exp={int(start) + int(lifetime)}~acl={acl}"
    if session_id is not None:
        message += f"~id={session_id}"
    if data is not None:
        message += f"~data={data}"
    return f"{message}~hmac={_mac(secret, message)}"


def parse_token(token: str) -> dict[str, str]:
    """The token's fields (hmac included); TokenError('malformed') if it is not one."""
    message, sep, mac = token.rpartition("~hmac=")
    if not sep or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
        raise TokenError("malformed", "no hmac")
    fields: dict[str, str] = {}
    for part in message.split("~"):
        name, eq, value = part.partition("=")
        if not eq or name not in _FIELDS or name in fields or not value:
            raise TokenError("malformed", f"bad field {name!r}")
        fields[name] = value
    if not {"st", "exp", "acl"} <= fields.keys():
        raise TokenError("malformed", "st, exp and acl are required")
    if not (fields["st"].isdigit() and fields["exp"].isdigit()):
        raise TokenError("malformed", "st and exp must be epoch seconds")
    fields["hmac"] = mac
    return fields


def normalise_path(path: str) -> str | None:
    """The percent-decoded path, or None if it has `..`/`.` segments, backslashes or NULs."""
    decoded = unquote(path)
    if not decoded.startswith("/") or "\x00" in decoded or "\\" in decoded:
        return None
    parts = decoded.split("/")[1:]
    if any(p in (".", "..") for p in parts):
        return None
    return "/" + "/".join(p for p in parts[:-1] if p) + ("/" if len(parts) > 1 else "") + parts[-1]


def acl_match(acl: str, path: str) -> str | None:
    """The first of the `!`-joined globs in acl that covers the (normalised) path, or None."""
    for glob in acl.split("!"):
        if glob.endswith("*"):
            if path.startswith(glob[:-1]):
                return glob
        elif path == glob:
            return glob
    return None


def acl_covers(acl: str, path: str) -> bool:
    """Whether one of the `!`-joined globs in acl covers the (normalised) path."""
    return acl_match(acl, path) is not None


def verify_token(secret: bytes, token: str, path: str, now: float) -> dict[str, str]:
    """The token's fields, or TokenError unless it is authentic, current at `now` and covers
    `path`."""
    fields = parse_token(token)
    message = token[: -len("~hmac=") - 64]
    if not hmac.compare_digest(_mac(secret, message), fields["hmac"]):
        raise TokenError("bad_signature")
    if now < int(fields["st"]):
        raise TokenError("not_yet_valid")
    if now >= int(fields["exp"]):
        raise TokenError("expired")
    clean = normalise_path(path)
    if clean is None or not acl_covers(fields["acl"], clean):
        raise TokenError("out_of_scope", path)
    return fields


def split_path_token(path: str) -> tuple[str | None, str]:
    """Split a raw (still percent-encoded) URL path into (token, rest) for the path style."""
    if not path.startswith(PATH_PREFIX):
        return None, path
    encoded, slash, rest = path.removeprefix(PATH_PREFIX).partition("/")
    return unquote(encoded), slash + rest


def signed_url(
    base_url: str,
    path: str,
    secret: bytes,
    lifetime: int,
    *,
    start: int,
    acl: str | None = None,
    session_id: str | None = None,
    data: str | None = None,
    style: str = "path",
) -> str:
    """base_url + path carrying a token; acl defaults to the path's directory (`/title/*`).

    style "path" puts the token in a `/__token__/<token>` prefix (segments inherit it),
    "query" appends `?hdnts=<token>` (the manifest request only).
    """
    if acl is None:
        acl = path.rsplit("/", 1)[0] + "/*"
    token = sign_token(
        secret, acl, start=start, lifetime=lifetime, session_id=session_id, data=data
    )
    base = base_url.rstrip("/")
    if style == "path":
        return f"{base}{PATH_PREFIX}{quote(token, safe='')}{path}"
    if style == "query":
        return f"{base}{path}?{TOKEN_PARAM}={quote(token, safe='')}"
    raise ValueError(f"style must be 'path' or 'query', not {style!r}")


def cloudfront_signed_url(
    url: str,
    key_id: str,
    private_key_pem: bytes,
    expires: datetime | int,
    policy_acl: str | None = None,
) -> str:
    """A CloudFront signed URL (canned policy, or a custom one whose Resource is policy_acl).

    Signed with botocore's CloudFrontSigner and RSA-SHA1 PKCS#1 v1.5 as CloudFront requires.
    """
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("CloudFront signing needs an RSA private key")

    def rsa_signer(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (CloudFront)

    when = expires if isinstance(expires, datetime) else datetime.fromtimestamp(expires, UTC)
    signer = CloudFrontSigner(key_id, rsa_signer)
    if policy_acl is None:
        return signer.generate_presigned_url(url, date_less_than=when)
    policy = signer.build_policy(policy_acl, when)
    return signer.generate_presigned_url(url, policy=policy)


def cloudfront_b64decode(value: str) -> bytes:
    """Undo CloudFront's URL-safe base64 (`-_~` stand for `+=/`)."""
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))
