"""DASH-IF CPIX 2.3 key exchange documents (the payload of AWS SPEKE v2).

We ask a key provider for one content key per label (AUDIO, SD, HD, UHD: separate keys so a
weak audio or SD licence never unlocks HD), and read back the keys plus the DRM signalling
(PSSH, MPD ContentProtection data, HLS key tags) it wants in our manifests. `build_response`
is the same document seen from the key-provider side, for our own `vod keyserver`.

Every document is checked against the CPIX 2.3 XSD shipped in drm/schemas/cpix (never
fetched) after a DOCTYPE-refusing parse. Content keys never appear in errors or reprs.
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from lxml import etree

from core.errors import PipelineError
from core.xml_safety import XmlSafetyError, parse_xml
from drm.keys import LABELS, ContentKey, DrmError
from drm.signalling.systems import COMMON_UUID, FAIRPLAY_UUID, PLAYREADY_UUID, WIDEVINE_UUID

CPIX_NS = "urn:dashif:org:cpix"
PSKC_NS = "urn:ietf:params:xml:ns:keyprov:pskc"
CPIX_VERSION = "2.3"
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "cpix"
SCHEMA_FILES = ("cpix.xsd", "pskc.xsd", "xenc-schema.xsd", "xmldsig-core-schema.xsd")

SYSTEM_IDS: dict[str, str] = {
    "widevine": WIDEVINE_UUID,
    "playready": PLAYREADY_UUID,
    "fairplay": FAIRPLAY_UUID,
    "clearkey": COMMON_UUID,  # W3C common PSSH, what ClearKey players read
}
SYSTEM_NAMES = {v: k for k, v in SYSTEM_IDS.items()}
# Signalling we ask each system for, as SPEKE v2 encryptors do (empty elements = "please fill").
_REQUESTED: dict[str, tuple[str, ...]] = {
    "widevine": ("PSSH", "ContentProtectionData", "HLS"),
    "playready": ("PSSH", "ContentProtectionData", "HLS"),
    "fairplay": ("HLS",),
    "clearkey": ("PSSH", "ContentProtectionData"),
}
SCHEMES = ("cenc", "cbcs")
Scheme = Literal["cenc", "cbcs"]
# The CPIX 2.3 XSD calls the master playlist "multiVariant"; SPEKE v2.0 documents say
# "master". Both are read; requests write the XSD's word unless told otherwise.
MasterPlaylist = Literal["multiVariant", "master"]


@dataclass(frozen=True)
class VideoFilter:
    """CPIX VideoFilter: which video tracks a key protects (pixels = width * height)."""

    min_pixels: int | None = None
    max_pixels: int | None = None
    hdr: bool | None = None
    min_fps: int | None = None
    max_fps: int | None = None


@dataclass(frozen=True)
class AudioFilter:
    """CPIX AudioFilter: which audio tracks a key protects, by channel count."""

    min_channels: int | None = None
    max_channels: int | None = None


# SPEKE v2 bands: SD up to 576 lines (768x576), HD 577-1080 lines (to 1920x1080), UHD above.
DEFAULT_VIDEO_LABELS: Mapping[str, VideoFilter] = {
    "SD": VideoFilter(max_pixels=768 * 576),
    "HD": VideoFilter(min_pixels=768 * 576 + 1, max_pixels=1920 * 1080),
    "UHD": VideoFilter(min_pixels=1920 * 1080 + 1),
}
DEFAULT_AUDIO_LABELS: Mapping[str, AudioFilter] = {"AUDIO": AudioFilter()}


@dataclass(frozen=True)
class UsageRule:
    """A ContentKeyUsageRule: the label (intendedTrackType) and filters for one KID."""

    kid: bytes
    intended_track_type: str | None
    video_filters: tuple[VideoFilter, ...] = ()
    audio_filters: tuple[AudioFilter, ...] = ()


@dataclass(frozen=True)
class DrmSignalling:
    """What a key provider returned for one (KID, DRM system); values stay base64 text."""

    system_id: str
    pssh: str | None = None  # a whole 'pssh' box, for init segments and MPD cenc:pssh
    content_protection_data: str | None = None  # XML children of the MPD ContentProtection
    hls_media: str | None = None  # EXT-X-KEY line(s) for media playlists
    hls_master: str | None = None  # EXT-X-SESSION-KEY line(s) (XSD: playlist="multiVariant")
    uri_ext_x_key: str | None = None  # legacy SPEKE v1 / CPIX 2.0 EXT-X-KEY URI

    @property
    def system(self) -> str | None:
        """Our short name for the system ('widevine', ...), None if unknown to us."""
        return SYSTEM_NAMES.get(self.system_id)


@dataclass(frozen=True)
class KeyData:
    """Key material read from a document, before it is matched to a label."""

    kid: bytes
    key: bytes = field(repr=False)
    iv: bytes | None = None


# SPEKE v2 labels that stand for several of ours (one key shared by those tracks).
LABEL_ALIASES: Mapping[str, tuple[str, ...]] = {"ALL": LABELS, "VIDEO": ("SD", "HD", "UHD")}


@dataclass(frozen=True)
class CpixDocument:
    """A parsed CPIX document: keys, per-KID signalling and the encryption contract."""

    content_id: str | None
    version: str | None
    kids: tuple[bytes, ...]  # every ContentKey@kid, in document order
    keys: Mapping[bytes, KeyData]  # only KIDs that carried key data
    schemes: Mapping[bytes, str | None]
    drm: Mapping[bytes, Mapping[str, DrmSignalling]]  # kid -> system id -> signalling
    usage_rules: tuple[UsageRule, ...]
    source: str = "CPIX document"

    def labels_for(self, kid: bytes) -> list[str]:
        """The intendedTrackType labels the usage rules give a KID, as written."""
        found = [r.intended_track_type for r in self.usage_rules if r.kid == kid]
        return list(dict.fromkeys(label for label in found if label))

    def kids_by_label(self) -> dict[str, bytes]:
        """intendedTrackType -> KID, as written (unlabelled KIDs are left out)."""
        return {label: kid for kid in self.kids for label in self.labels_for(kid)}

    def keys_by_label(self) -> dict[str, ContentKey]:
        """Our label (AUDIO/SD/HD/UHD) -> ContentKey for every labelled KID with a key.

        'SD+HD', 'VIDEO' and 'ALL' give the same key to each label they cover.
        """
        out: dict[str, ContentKey] = {}
        for written, kid in self.kids_by_label().items():
            data = self.keys.get(kid)
            if data is None:
                continue
            parts = [p for part in written.split("+") for p in LABEL_ALIASES.get(part, (part,))]
            for label in parts:
                if label in out and out[label].kid != kid:
                    raise CpixError(self.source, f"label {label} is covered by two different KIDs")
                try:
                    out[label] = ContentKey(label=label, kid=kid, key=data.key, iv=data.iv)
                except DrmError as exc:
                    raise CpixError(
                        self.source, f"intendedTrackType {written!r}: {exc.cause}"
                    ) from None
        return out


class CpixError(PipelineError):
    """A CPIX document we cannot build or trust; names the document and the cause."""

    def __init__(self, source: str, cause: str, detail: str = ""):
        self.source = source
        super().__init__(source, cause, stage="cpix", detail=detail)


# ---------------------------------------------------------------- schema


class _SchemaResolver(etree.Resolver):
    """Maps the XSD imports to our packaged copies; anything else is refused, never fetched."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object):
        name = (system_url or "").replace("\\", "/").rsplit("/", 1)[-1]
        if name in SCHEMA_FILES:
            return self.resolve_filename(str(SCHEMA_DIR / name), context)
        raise etree.XMLSchemaParseError(f"schema import refused: {system_url or public_id}")


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_SchemaResolver())
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "cpix.xsd"), parser))


_schema_lock = threading.Lock()  # an XMLSchema keeps its error log on itself


def _validate(root: etree._Element, source: str) -> None:
    with _schema_lock:
        schema = _schema()
        if schema.validate(root):
            return
        errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    shown = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    raise CpixError(source, f"not valid CPIX 2.3: {shown}", detail="\n".join(errors))


# ---------------------------------------------------------------- small helpers


def _q(name: str, ns: str = CPIX_NS) -> str:
    return f"{{{ns}}}{name}"


def _uuid(kid: bytes) -> str:
    return str(uuid.UUID(bytes=kid))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64text(el: etree._Element | None) -> str | None:
    """Element text with whitespace removed; None when absent or empty (a bare request)."""
    if el is None:
        return None
    text = "".join((el.text or "").split())
    return text or None


def _unb64(text: str, source: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CpixError(source, f"{what} is not valid base64") from None


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
    root = etree.Element(_q("CPIX"), nsmap={"cpix": CPIX_NS, "pskc": PSKC_NS})
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
    rules = etree.SubElement(root, _q("ContentKeyUsageRuleList"))
    for label, kid in labelled:
        video, audio = _filters_for(label, video_labels, audio_labels, source)
        rule = etree.SubElement(rules, _q("ContentKeyUsageRule"))
        rule.set("kid", _uuid(kid))
        rule.set("intendedTrackType", label)
        for vf in video:  # XSD order: VideoFilter before AudioFilter
            el = etree.SubElement(rule, _q("VideoFilter"))
            _set_opt(el, "minPixels", vf.min_pixels)
            _set_opt(el, "maxPixels", vf.max_pixels)
            _set_opt(el, "hdr", vf.hdr)
            _set_opt(el, "minFps", vf.min_fps)
            _set_opt(el, "maxFps", vf.max_fps)
        for af in audio:
            el = etree.SubElement(rule, _q("AudioFilter"))
            _set_opt(el, "minChannels", af.min_channels)
            _set_opt(el, "maxChannels", af.max_channels)


def _serialize(root: etree._Element, source: str) -> bytes:
    check = parse_xml(etree.tostring(root), source)  # validate what we emit, not our tree
    _normalize_legacy(check, source)
    _validate(check, source)
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
    key_list = etree.SubElement(root, _q("ContentKeyList"))
    for kid in kids_by_label.values():
        ck = etree.SubElement(key_list, _q("ContentKey"))
        ck.set("kid", _uuid(kid))
        ck.set("commonEncryptionScheme", scheme)
    drm_list = etree.SubElement(root, _q("DRMSystemList"))
    for kid in kids_by_label.values():
        for name in names:
            drm = etree.SubElement(drm_list, _q("DRMSystem"))
            drm.set("kid", _uuid(kid))
            drm.set("systemId", SYSTEM_IDS[name])
            for wanted in _REQUESTED[name]:
                if wanted == "HLS":
                    etree.SubElement(drm, _q("HLSSignalingData")).set("playlist", "media")
                    etree.SubElement(drm, _q("HLSSignalingData")).set("playlist", master_playlist)
                else:
                    etree.SubElement(drm, _q(wanted))
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
                raise CpixError(source, f"the request asks for KID {_uuid(kid)}, which has no key")
            asked = request.schemes.get(kid)
            if asked and asked != scheme:
                raise CpixError(source, f"KID {_uuid(kid)} was requested as {asked}, not {scheme}")
    root = _new_root(content_id or "", source)
    key_list = etree.SubElement(root, _q("ContentKeyList"))
    for label, ck in by_kid.values():
        el = etree.SubElement(key_list, _q("ContentKey"))
        el.set("kid", _uuid(ck.kid))
        el.set("commonEncryptionScheme", scheme)
        if ck.iv is not None:
            if len(ck.iv) not in (8, 16):
                raise CpixError(source, f"IV for {label!r} must be 8 or 16 bytes")
            el.set("explicitIV", _b64(ck.iv))
        secret = etree.SubElement(etree.SubElement(el, _q("Data")), _q("Secret", PSKC_NS))
        etree.SubElement(secret, _q("PlainValue", PSKC_NS)).text = _b64(ck.key)
    drm_list = etree.SubElement(root, _q("DRMSystemList"))
    for _label, ck in by_kid.values():
        for name in names:
            drm = etree.SubElement(drm_list, _q("DRMSystem"))
            drm.set("kid", _uuid(ck.kid))
            drm.set("systemId", SYSTEM_IDS[name])
            box = pssh_for(name, ck) if pssh_for else None
            if box:
                etree.SubElement(drm, _q("PSSH")).text = _b64(box)
    labelled = [(label, ck.kid) for label, ck in by_kid.values()]
    _add_usage_rules(root, labelled, video_labels, audio_labels, source)
    return _serialize(root, source)


# ---------------------------------------------------------------- parsing

_DRM_CHILD_ORDER = {"PSSH": 0, "ContentProtectionData": 1, "HLSSignalingData": 2}


def _drm_child_rank(el: etree._Element) -> int:
    """Position in the XSD's DRMSystem sequence; stable sort keeps equal ranks in order."""
    if not isinstance(el.tag, str) or not el.tag.startswith(f"{{{CPIX_NS}}}"):
        return 4  # comments and other-namespace extensions go last
    return _DRM_CHILD_ORDER.get(etree.QName(el).localname, 3)


def _normalize_legacy(root: etree._Element, source: str) -> dict[tuple[str, str], str]:
    """Rewrite the known SPEKE v2.0 deviations from the 2.3 XSD; return URIExtXKey values.

    SPEKE v2.0 documents (and AWS's examples) write playlist="master", put DRMSystem
    children in another order than the XSD sequence, and may still carry the CPIX 2.0
    cpix:URIExtXKey. None of that changes meaning, so it is aligned before validation.
    """
    uris: dict[tuple[str, str], str] = {}
    for drm in root.iterfind(f"{_q('DRMSystemList')}/{_q('DRMSystem')}"):
        for hls in drm.iterfind(_q("HLSSignalingData")):
            if hls.get("playlist") == "master":
                hls.set("playlist", "multiVariant")
        for el in drm.findall(_q("URIExtXKey")):
            text = _b64text(el)
            if text:
                _unb64(text, source, f"URIExtXKey (line {el.sourceline})")
                uris[(drm.get("kid", "").lower(), drm.get("systemId", "").lower())] = text
            drm.remove(el)
        children = list(drm)
        ordered = sorted(children, key=_drm_child_rank)
        if ordered != children:
            drm[:] = ordered
    return uris


def _int(el: etree._Element, name: str) -> int | None:
    value = el.get(name)
    return int(value) if value is not None else None


def _parse_keys(
    root: etree._Element, source: str, require_keys: bool
) -> tuple[list[bytes], dict[bytes, KeyData], dict[bytes, str | None]]:
    kids: list[bytes] = []
    keys: dict[bytes, KeyData] = {}
    schemes: dict[bytes, str | None] = {}
    for el in root.iterfind(f"{_q('ContentKeyList')}/{_q('ContentKey')}"):
        kid = uuid.UUID(el.get("kid")).bytes
        where = f"ContentKey {_uuid(kid)} (line {el.sourceline})"
        if kid in schemes:
            raise CpixError(source, f"duplicate KID: {where} appears more than once")
        kids.append(kid)
        schemes[kid] = el.get("commonEncryptionScheme")
        secret = el.find(f"{_q('Data')}/{_q('Secret', PSKC_NS)}")
        if secret is not None and secret.find(_q("EncryptedValue", PSKC_NS)) is not None:
            raise CpixError(
                source,
                f"{where} is encrypted (DocumentKey/EncryptedValue); encrypted "
                "content keys are not supported - ask for pskc:PlainValue over HTTPS",
            )
        value = _b64text(secret.find(_q("PlainValue", PSKC_NS))) if secret is not None else None
        if value is None:
            if require_keys:
                raise CpixError(source, f"{where} has no key data (Data/Secret/PlainValue)")
            continue
        key = _unb64(value, source, f"key of {where}")
        if len(key) != 16:
            raise CpixError(source, f"key of {where} is {len(key)} bytes; AES-128 needs 16")
        iv = None
        if el.get("explicitIV") is not None:
            iv = _unb64(el.get("explicitIV", ""), source, f"explicitIV of {where}")
            if len(iv) not in (8, 16):
                raise CpixError(source, f"explicitIV of {where} is {len(iv)} bytes, not 8/16")
        keys[kid] = KeyData(kid=kid, key=key, iv=iv)
    if require_keys and not kids:
        raise CpixError(source, "the document has no ContentKey")
    return kids, keys, schemes


def _parse_drm(
    root: etree._Element, source: str, known: Collection[bytes], uris: Mapping[tuple, str]
) -> dict[bytes, dict[str, DrmSignalling]]:
    drm: dict[bytes, dict[str, DrmSignalling]] = {}
    for el in root.iterfind(f"{_q('DRMSystemList')}/{_q('DRMSystem')}"):
        kid = uuid.UUID(el.get("kid")).bytes
        system_id = str(uuid.UUID(el.get("systemId")))
        where = f"DRMSystem {system_id} for KID {_uuid(kid)} (line {el.sourceline})"
        if kid not in known:
            raise CpixError(source, f"{where} references a KID not in ContentKeyList")
        if system_id in drm.get(kid, {}):
            raise CpixError(source, f"duplicate {where}")
        hls: dict[str, str | None] = {}
        for h in el.iterfind(_q("HLSSignalingData")):
            playlist = "master" if h.get("playlist") == "multiVariant" else "media"
            if playlist in hls:
                raise CpixError(source, f"{where} has two HLSSignalingData for {playlist}")
            hls[playlist] = _b64text(h)
        drm.setdefault(kid, {})[system_id] = DrmSignalling(
            system_id=system_id,
            pssh=_b64text(el.find(_q("PSSH"))),
            content_protection_data=_b64text(el.find(_q("ContentProtectionData"))),
            hls_media=hls.get("media"),
            hls_master=hls.get("master"),
            uri_ext_x_key=uris.get((el.get("kid", "").lower(), el.get("systemId", "").lower())),
        )
    return drm


def _parse_rules(root: etree._Element, source: str, known: Collection[bytes]) -> list[UsageRule]:
    rules: list[UsageRule] = []
    owner: dict[str, bytes] = {}
    for el in root.iterfind(f"{_q('ContentKeyUsageRuleList')}/{_q('ContentKeyUsageRule')}"):
        kid = uuid.UUID(el.get("kid")).bytes
        label = el.get("intendedTrackType")
        where = f"ContentKeyUsageRule {label + ' ' if label else ''}(line {el.sourceline})"
        if kid not in known:
            raise CpixError(source, f"{where} references unknown KID {_uuid(kid)}")
        if label and owner.setdefault(label, kid) != kid:
            raise CpixError(source, f"label {label!r} is used for two different KIDs ({where})")
        video = tuple(
            VideoFilter(
                min_pixels=_int(v, "minPixels"),
                max_pixels=_int(v, "maxPixels"),
                hdr=(v.get("hdr") in ("true", "1")) if v.get("hdr") is not None else None,
                min_fps=_int(v, "minFps"),
                max_fps=_int(v, "maxFps"),
            )
            for v in el.iterfind(_q("VideoFilter"))
        )
        audio = tuple(
            AudioFilter(min_channels=_int(a, "minChannels"), max_channels=_int(a, "maxChannels"))
            for a in el.iterfind(_q("AudioFilter"))
        )
        rules.append(UsageRule(kid, label, video, audio))
    return rules


def _parse(data: bytes, source: str, *, require_keys: bool, strict: bool) -> CpixDocument:
    try:
        root = parse_xml(data, source)
    except XmlSafetyError as exc:
        raise CpixError(source, exc.cause) from None
    qname = etree.QName(root)
    if qname.namespace != CPIX_NS or qname.localname != "CPIX":
        found = f"<{qname.localname}> in namespace {qname.namespace or '(none)'!r}"
        raise CpixError(source, f"root element is {found}; expected <CPIX> in {CPIX_NS!r}")
    uris = {} if strict else _normalize_legacy(root, source)
    _validate(root, source)
    if root.find(_q("DeliveryDataList")) is not None:
        raise CpixError(
            source,
            "the document uses DeliveryDataList/DocumentKey (encrypted content keys); "
            "that is not supported - ask for pskc:PlainValue keys over HTTPS",
        )
    kids, keys, schemes = _parse_keys(root, source, require_keys)
    drm = _parse_drm(root, source, schemes, uris)
    rules = _parse_rules(root, source, schemes)
    return CpixDocument(
        content_id=root.get("contentId"),
        version=root.get("version"),
        kids=tuple(kids),
        keys=keys,
        schemes=schemes,
        drm=drm,
        usage_rules=tuple(rules),
        source=source,
    )


def parse_response(
    data: bytes, *, source: str = "CPIX response", strict: bool = False
) -> CpixDocument:
    """Parse a key provider's answer; every ContentKey must carry a 16-byte plain key.

    `strict=True` validates the bytes exactly as received, without aligning the SPEKE v2.0
    deviations (playlist="master", DRMSystem child order, cpix:URIExtXKey).
    """
    return _parse(data, source, require_keys=True, strict=strict)


def parse_request(
    data: bytes, *, source: str = "CPIX request", strict: bool = False
) -> CpixDocument:
    """Parse a key request (ContentKeys without key data), e.g. in our own key server."""
    return _parse(data, source, require_keys=False, strict=strict)
