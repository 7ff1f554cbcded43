"""DASH signalling: the ContentProtection elements of an AdaptationSet or Representation.

The mp4protection descriptor names the scheme and default KID; one element per DRM system
then carries the same PSSH bytes as the init segment (`drm.signalling.pssh`). The elements
use the MPD writer's namespaces, so they drop into its tree unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree

from drm.keys import DrmError, kid_uuid
from drm.signalling.playready import playready_object
from drm.signalling.pssh import b64, system_list, system_pssh_boxes, url_for
from drm.signalling.systems import (
    CLEARKEY_DASH_UUID,
    COMMON_UUID,
    MP4PROTECTION_SCHEME,
    PLAYREADY_UUID,
    WIDEVINE_UUID,
    urn,
)
from pipeline.manifest.dash import NS_CENC, NS_DASHIF, NS_MPD, NS_MSPR, NSMAP

__all__ = ["dash_content_protection"]


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
    systems = system_list(systems)
    if "fairplay" in systems:
        raise DrmError("FairPlay is signalled in HLS only; drop it from the DASH systems")
    key = (keys or {}).get(default_kid)
    boxes = system_pssh_boxes(systems, scheme, default_kid, key=key, la_url=la_url)

    out = [_cp(MP4PROTECTION_SCHEME, scheme)]
    out[0].set(f"{{{NS_CENC}}}default_KID", kid_uuid(default_kid))
    for system in systems:
        if system == "widevine":
            cp = _cp(urn(WIDEVINE_UUID))
            _sub(cp, NS_CENC, "pssh", b64(boxes[system]))
            out.append(cp)
        elif system == "playready":
            cp = _cp(urn(PLAYREADY_UUID), "MSPR 2.0")
            _sub(cp, NS_CENC, "pssh", b64(boxes[system]))
            pro = playready_object(default_kid, scheme, key=key, la_url=url_for(la_url, system))
            _sub(cp, NS_MSPR, "pro", b64(pro))
            out.append(cp)
        elif system == "clearkey":
            cp = _cp(urn(CLEARKEY_DASH_UUID), "ClearKey1.0")
            if url := url_for(la_url, system):
                _sub(cp, NS_DASHIF, "laurl", url)
            out.append(cp)
            common = _cp(urn(COMMON_UUID))
            _sub(common, NS_CENC, "pssh", b64(boxes[system]))
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
