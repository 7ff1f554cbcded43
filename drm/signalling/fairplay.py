"""FairPlay Streaming signalling: the `skd://` key URI and its HLS EXT-X-KEY line.

URI form we write: `skd://{kid_hex}`, or `skd://{host}/{kid_hex}` when a key-server host (or
any asset namespace) is configured. The player app hands the URI to its key server, which
reads the 32-hex-digit KID from the last path part (or the host part when there is no
path). The IV of fMP4 'cbcs' lives in the init segment's `tenc`, so no IV query is written.
FairPlay decrypts 'cbcs' only: HLS METHOD=SAMPLE-AES.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from drm.keys import DrmError, parse_kid

__all__ = ["KEYFORMAT", "skd_uri", "parse_skd_uri", "ext_x_key_line"]

KEYFORMAT = "com.apple.streamingkeydelivery"
KEYFORMATVERSIONS = "1"


def skd_uri(kid: bytes, host: str | None = None) -> str:
    """`skd://{kid_hex}` or `skd://{host}/{kid_hex}`."""
    if len(kid) != 16:
        raise DrmError("KID must be 16 bytes")
    if host is None or not host.strip("/"):
        return f"skd://{kid.hex()}"
    host = host.strip("/")
    if any(c in host for c in '"?#, '):
        raise DrmError(f"FairPlay key host {host!r} contains characters not allowed in skd://")
    return f"skd://{host}/{kid.hex()}"


def parse_skd_uri(uri: str) -> tuple[str | None, bytes]:
    """(host or None, KID) from an skd:// URI of the form above (KID as hex or UUID)."""
    parts = urlsplit(uri.strip())
    if parts.scheme != "skd":
        raise DrmError(f"{uri!r} is not an skd:// URI")
    path = parts.path.strip("/")
    host: str | None
    if path:
        head, _, kid_text = path.rpartition("/")
        host = f"{parts.netloc}/{head}" if head else parts.netloc
    else:
        host, kid_text = None, parts.netloc
    return host or None, parse_kid(kid_text)


def ext_x_key_line(uri: str, *, tag: str = "EXT-X-KEY", iv: bytes | None = None) -> str:
    """`#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://...",KEYFORMAT=...,KEYFORMATVERSIONS="1"`.

    `tag="EXT-X-SESSION-KEY"` gives the master playlist's copy.
    """
    if not uri.startswith("skd://"):
        raise DrmError(f"FairPlay key URI must start with skd://, got {uri!r}")
    iv_attr = f",IV=0x{iv.hex().upper()}" if iv is not None else ""
    return (
        f'#{tag}:METHOD=SAMPLE-AES,URI="{uri}"{iv_attr},'
        f'KEYFORMAT="{KEYFORMAT}",KEYFORMATVERSIONS="{KEYFORMATVERSIONS}"'
    )
