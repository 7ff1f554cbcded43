"""HLS key signalling: one EXT-X-KEY (or EXT-X-SESSION-KEY) line per DRM system.

cbcs is METHOD=SAMPLE-AES, cenc METHOD=SAMPLE-AES-CTR. Widevine and PlayReady carry the same
PSSH/PRO bytes as the init segment (`drm.signalling.pssh`); FairPlay is signalled in HLS only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drm.keys import DrmError
from drm.signalling import fairplay
from drm.signalling.clearkey import CLEARKEY_LICENSE_PATH
from drm.signalling.playready import playready_object
from drm.signalling.pssh import b64, check_scheme, system_list, system_pssh_boxes, url_for
from drm.signalling.systems import WIDEVINE_UUID, urn

__all__ = ["hls_method", "hls_key_lines", "session_key_lines"]

_METHODS = {"cbcs": "SAMPLE-AES", "cenc": "SAMPLE-AES-CTR"}


def hls_method(scheme: str) -> str:
    """cbcs -> SAMPLE-AES, cenc -> SAMPLE-AES-CTR."""
    check_scheme(scheme)
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
    boxes = system_pssh_boxes([s for s in system_list(systems) if s == "widevine"], scheme, kid)
    keyid = f"0x{kid.hex().upper()}"
    lines: list[str] = []
    for system in system_list(systems):
        if system == "widevine":
            uri = "data:text/plain;base64," + b64(boxes["widevine"])
            lines.append(_key_line(tag, method, uri, urn(WIDEVINE_UUID), keyid))
        elif system == "playready":
            pro = playready_object(kid, scheme, key=key, la_url=url_for(la_url, system))
            uri = "data:text/plain;charset=UTF-16;base64," + b64(pro)
            lines.append(_key_line(tag, method, uri, "com.microsoft.playready"))
        elif system == "fairplay":
            if scheme != "cbcs":
                raise DrmError("FairPlay needs the cbcs scheme (METHOD=SAMPLE-AES)")
            lines.append(fairplay.ext_x_key_line(skd_uri or fairplay.skd_uri(kid), tag=tag))
        elif system == "clearkey":
            base = (url_for(la_url, system) or CLEARKEY_LICENSE_PATH).rstrip("/")
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
