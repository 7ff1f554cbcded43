"""DASH-IF CPIX 2.3 key exchange documents (the payload of AWS SPEKE v2).

We ask a key provider for one content key per label and read back the keys plus the DRM
signalling (PSSH, MPD ContentProtection data, HLS key tags) it wants in our manifests;
`build_response` is the same document seen from the key-provider side, for our own
`vod keyserver`. `model` holds the vocabulary, `schema` the offline XSD check, `writer` and
`reader` the two directions. Content keys never appear in errors or reprs.
"""

from drm.keyexchange.cpix.model import (
    CPIX_NS,
    CPIX_VERSION,
    DEFAULT_AUDIO_LABELS,
    DEFAULT_VIDEO_LABELS,
    LABEL_ALIASES,
    PSKC_NS,
    SCHEMES,
    SYSTEM_IDS,
    SYSTEM_NAMES,
    AudioFilter,
    CpixDocument,
    CpixError,
    DrmSignalling,
    KeyData,
    MasterPlaylist,
    Scheme,
    UsageRule,
    VideoFilter,
)
from drm.keyexchange.cpix.reader import parse_request, parse_response
from drm.keyexchange.cpix.schema import SCHEMA_DIR, SCHEMA_FILES
from drm.keyexchange.cpix.writer import PsshFor, build_request, build_response

__all__ = [
    "CPIX_NS",
    "CPIX_VERSION",
    "DEFAULT_AUDIO_LABELS",
    "DEFAULT_VIDEO_LABELS",
    "LABEL_ALIASES",
    "PSKC_NS",
    "SCHEMA_DIR",
    "SCHEMA_FILES",
    "SCHEMES",
    "SYSTEM_IDS",
    "SYSTEM_NAMES",
    "AudioFilter",
    "CpixDocument",
    "CpixError",
    "DrmSignalling",
    "KeyData",
    "MasterPlaylist",
    "PsshFor",
    "Scheme",
    "UsageRule",
    "VideoFilter",
    "build_request",
    "build_response",
    "parse_request",
    "parse_response",
]
