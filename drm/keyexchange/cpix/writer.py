"""Writing CPIX 2.3 documents: the request we send a key provider, the answer our server sends.

A request asks for one content key per label (AUDIO, SD, HD, UHD: separate keys so a weak
audio or SD licence never unlocks HD) and for the DRM signalling each system should return,
as SPEKE v2 encryptors do. A response carries the keys in pskc:PlainValue. Whatever we emit is
re-parsed and checked against the XSD first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from lxml import etree

from core.xml_safety import parse_xml
from drm.keyexchange.cpix.model import (
    CPIX_NS,
    CPIX_VERSION,
    DEFAULT_AUDIO_LABELS,
    DEFAULT_VIDEO_LABELS,
    PSKC_NS,
    SCHEMES,
    SYSTEM_IDS,
    AudioFilter,
    CpixDocument,
    CpixError,
    MasterPlaylist,
    Scheme,
    VideoFilter,
    b64,
    q,
)
from drm.keyexchange.cpix.reader import parse_request
from drm.keyexchange.cpix.schema import normalize_legacy, validate
from drm.keys import ContentKey, kid_uuid

# Signalling we ask each system for, as SPEKE v2 encryptors do (empty elements = "please fill").
_REQUESTED: dict[str, tuple[str, ...]] = {
    "widevine": ("PSSH", "ContentProtectionData", "HLS"),
    "playready": ("PSSH", "ContentProtectionData", "HLS"),
    "fairplay": ("HLS",),
    "clearkey": ("PSSH", "ContentProtectionData"),
}


def _check_kid(kid: bytes, source: str, label: str) -> None:
    if not isinstance(kid, bytes) or len(kid) != 16:
        n = len(kid) if isinstance(kid, bytes) else type(kid).__name__
        raise CpixError(source, f"KID for {label!r} must be 16 bytes, got {n}")


def _check_inputs(scheme: str, systems: Sequence[str], source: str) -> list[str]:
    if scheme not in SCHEMES:
        raise CpixError(source, f"scheme must be one of {SCHEMES}, got {scheme!r}")
    names = [s.lower() for s in systems]
    for name in names:
        if name not in SYSTEM_IDS:
            raise CpixError(source, f"unknown DRM system {name!r}; known: {sorted(SYSTEM_IDS)}")
    if "fairplay" in names and scheme != "cbcs":
        raise CpixError(source, "FairPlay needs the cbcs scheme (HLS SAMPLE-AES)")
    if len(set(names)) != len(names):
        raise CpixError(source, f"DRM system listed twice: {list(systems)}")
    return names


def _filters_for(
    label: str,
    video_labels: Mapping[str, VideoFilter],
    audio_labels: Mapping[str, AudioFilter],
    source: str,
) -> tuple[list[VideoFilter], list[AudioFilter]]:
    """Filters for a label; 'SD+HD' combines parts and 'ALL' means every track (SPEKE v2)."""
    if label == "ALL":
        return [VideoFilter()], [AudioFilter()]
    video: list[VideoFilter] = []
    audio: list[AudioFilter] = []
    for part in label.split("+"):
        if part in video_labels:
            video.append(video_labels[part])
        elif part in audio_labels:
            audio.append(audio_labels[part])
        else:
            known = sorted([*video_labels, *audio_labels, "ALL"])
            raise CpixError(source, f"label {part!r} has no track filter; known labels: {known}")
    return video, audio


def _set_opt(el: etree._Element, name: str, value: int | bool | None) -> None:
    if value is not None:
        el.set(name, ("true" if value else "false") if isinstance(value, bool) else str(value))


# ---------------------------------------------------------------- building


def _new_root(content_id: str, source: str) -> etree._Element:
    if not isinstance(content_id, str) or not content_id.strip():
        raise CpixError(source, "content_id must be a non-empty string")
    root = etree.Element(q("CPIX"), nsmap={"cpix": CPIX_NS, "pskc": PSKC_NS})
    root.set("contentId", content_id)
    root.set("version", CPIX_VERSION)
    return root


def _add_usage_rules(
    root: etree._Element,
    labelled: Sequence[tuple[str, bytes]],
    video_labels: Mapping[str, VideoFilter],
    audio_labels: Mapping[str, AudioFilter],
    source: str,
) -> None:
    rules = etree.SubElement(root, q("ContentKeyUsageRuleList"))
    for label, kid in labelled:
        video, audio = _filters_for(label, video_labels, audio_labels, source)
        rule = etree.SubElement(rules, q("ContentKeyUsageRule"))
        rule.set("kid", kid_uuid(kid))
        rule.set("intendedTrackType", label)
        for vf in video:  # XSD order: VideoFilter before AudioFilter
            el = etree.SubElement(rule, q("VideoFilter"))
            _set_opt(el, "minPixels", vf.min_pixels)
            _set_opt(el, "maxPixels", vf.max_pixels)
            _set_opt(el, "hdr", vf.hdr)
            _set_opt(el, "minFps", vf.min_fps)
            _set_opt(el, "maxFps", vf.max_fps)
        for af in audio:
            el = etree.SubElement(rule, q("AudioFilter"))
            _set_opt(el, "minChannels", af.min_channels)
            _set_opt(el, "maxChannels", af.max_channels)


def _serialize(root: etree._Element, source: str) -> bytes:
    check = parse_xml(etree.tostring(root), source)  # validate what we emit, not our tree
    normalize_legacy(check, source)
    validate(check, source)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_request(
    content_id: str,
    kids_by_label: Mapping[str, bytes],
    *,
    scheme: Scheme,
    systems: Sequence[str],
    video_labels: Mapping[str, VideoFilter] = DEFAULT_VIDEO_LABELS,
    audio_labels: Mapping[str, AudioFilter] = DEFAULT_AUDIO_LABELS,
    master_playlist: MasterPlaylist = "multiVariant",
) -> bytes:
    """A CPIX 2.3 request: one ContentKey (no key data) per label, signalling asked per system.

    Labels are SPEKE v2 intendedTrackType values; each must be in `video_labels` or
    `audio_labels` (or be 'ALL', or join those with '+'). Use master_playlist="master" for
    SPEKE v2.0 key providers that predate the XSD's "multiVariant".
    """
    source = "CPIX request"
    names = _check_inputs(scheme, systems, source)
    if not kids_by_label:
        raise CpixError(source, "no KIDs to request")
    seen: dict[bytes, str] = {}
    for label, kid in kids_by_label.items():
        _check_kid(kid, source, label)
        if kid in seen:
            raise CpixError(
                source,
                f"labels {seen[kid]!r} and {label!r} share a KID; use one label "
                f"like {seen[kid] + '+' + label!r} instead",
            )
        seen[kid] = label
    root = _new_root(content_id, source)
    key_list = etree.SubElement(root, q("ContentKeyList"))
    for kid in kids_by_label.values():
        ck = etree.SubElement(key_list, q("ContentKey"))
        ck.set("kid", kid_uuid(kid))
        ck.set("commonEncryptionScheme", scheme)
    drm_list = etree.SubElement(root, q("DRMSystemList"))
    for kid in kids_by_label.values():
        for name in names:
            drm = etree.SubElement(drm_list, q("DRMSystem"))
            drm.set("kid", kid_uuid(kid))
            drm.set("systemId", SYSTEM_IDS[name])
            for wanted in _REQUESTED[name]:
                if wanted == "HLS":
                    etree.SubElement(drm, q("HLSSignalingData")).set("playlist", "media")
                    etree.SubElement(drm, q("HLSSignalingData")).set("playlist", master_playlist)
                else:
                    etree.SubElement(drm, q(wanted))
    labelled = list(kids_by_label.items())
    _add_usage_rules(root, labelled, video_labels, audio_labels, source)
    return _serialize(root, source)


PsshFor = Callable[[str, ContentKey], bytes | None]


def build_response(
    request_or_content_id: str | bytes | CpixDocument,
    keys: Mapping[str, ContentKey],
    scheme: Scheme,
    systems: Sequence[str],
    pssh_for: PsshFor | None = None,
    *,
    video_labels: Mapping[str, VideoFilter] = DEFAULT_VIDEO_LABELS,
    audio_labels: Mapping[str, AudioFilter] = DEFAULT_AUDIO_LABELS,
) -> bytes:
    """A CPIX 2.3 response carrying `keys` (label -> ContentKey) in pskc:PlainValue.

    Given a request (bytes or parsed), its contentId is echoed and every KID it asks for
    must be among `keys`. `pssh_for(system_name, key)` may return a whole 'pssh' box for
    that DRMSystem; None leaves it out.
    """
    source = "CPIX response"
    names = _check_inputs(scheme, systems, source)
    if isinstance(request_or_content_id, bytes | bytearray):
        request = parse_request(bytes(request_or_content_id))
    elif isinstance(request_or_content_id, CpixDocument):
        request = request_or_content_id
    else:
        request = None
    content_id = request.content_id if request else request_or_content_id
    if not keys:
        raise CpixError(source, "no content keys to send")
    by_kid: dict[bytes, tuple[str, ContentKey]] = {}
    for label, ck in keys.items():
        _check_kid(ck.kid, source, label)
        if not isinstance(ck.key, bytes) or len(ck.key) != 16:
            raise CpixError(source, f"content key for {label!r} must be 16 bytes")
        if ck.kid in by_kid:
            raise CpixError(source, f"labels {by_kid[ck.kid][0]!r} and {label!r} share a KID")
        by_kid[ck.kid] = (label, ck)
    if request is not None:
        for kid in request.kids:
            if kid not in by_kid:
                cause = f"the request asks for KID {kid_uuid(kid)}, which has no key"
                raise CpixError(source, cause)
            asked = request.schemes.get(kid)
            if asked and asked != scheme:
                cause = f"KID {kid_uuid(kid)} was requested as {asked}, not {scheme}"
                raise CpixError(source, cause)
    root = _new_root(content_id or "", source)
    key_list = etree.SubElement(root, q("ContentKeyList"))
    for label, ck in by_kid.values():
        el = etree.SubElement(key_list, q("ContentKey"))
        el.set("kid", kid_uuid(ck.kid))
        el.set("commonEncryptionScheme", scheme)
        if ck.iv is not None:
            if len(ck.iv) not in (8, 16):
                raise CpixError(source, f"IV for {label!r} must be 8 or 16 bytes")
            el.set("explicitIV", b64(ck.iv))
        secret = etree.SubElement(etree.SubElement(el, q("Data")), q("Secret", PSKC_NS))
        etree.SubElement(secret, q("PlainValue", PSKC_NS)).text = b64(ck.key)
    drm_list = etree.SubElement(root, q("DRMSystemList"))
    for _label, ck in by_kid.values():
        for name in names:
            drm = etree.SubElement(drm_list, q("DRMSystem"))
            drm.set("kid", kid_uuid(ck.kid))
            drm.set("systemId", SYSTEM_IDS[name])
            box = pssh_for(name, ck) if pssh_for else None
            if box:
                etree.SubElement(drm, q("PSSH")).text = b64(box)
    labelled = [(label, ck.kid) for label, ck in by_kid.values()]
    _add_usage_rules(root, labelled, video_labels, audio_labels, source)
    return _serialize(root, source)
