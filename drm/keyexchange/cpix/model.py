"""The CPIX 2.3 vocabulary: namespaces, DRM system ids, track filters and a parsed document.

Plain data shared by the writer (`writer`), the reader (`reader`) and the XSD check
(`schema`). Content keys never appear in errors or reprs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from drm.keys import LABELS, ContentKey, DrmError
from drm.signalling.systems import COMMON_UUID, FAIRPLAY_UUID, PLAYREADY_UUID, WIDEVINE_UUID

CPIX_NS = "urn:dashif:org:cpix"
PSKC_NS = "urn:ietf:params:xml:ns:keyprov:pskc"
CPIX_VERSION = "2.3"

SYSTEM_IDS: dict[str, str] = {
    "widevine": WIDEVINE_UUID,
    "playready": PLAYREADY_UUID,
    "fairplay": FAIRPLAY_UUID,
    "clearkey": COMMON_UUID,  # W3C common PSSH, what ClearKey players read
}
SYSTEM_NAMES = {v: k for k, v in SYSTEM_IDS.items()}
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


class CpixError(DrmError):
    """A CPIX document we cannot build or trust; names the document and the cause (bad input:
    a key server that sends one fails the same way when asked again)."""

    def __init__(self, source: str, cause: str, detail: str = ""):
        self.source = source
        super().__init__(cause, source, stage="cpix", detail=detail)


# ---------------------------------------------------------------- XML text helpers


def q(name: str, ns: str = CPIX_NS) -> str:
    """Clark notation of a CPIX (or `ns`) element name."""
    return f"{{{ns}}}{name}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64_text(el: etree._Element | None) -> str | None:
    """Element text with whitespace removed; None when absent or empty (a bare request)."""
    if el is None:
        return None
    text = "".join((el.text or "").split())
    return text or None


def unb64(text: str, source: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CpixError(source, f"{what} is not valid base64") from None
