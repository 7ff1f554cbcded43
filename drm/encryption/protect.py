"""What `vod ingest --drm ... --scheme ...` asks for, and the per-track hooks that do it.

The pipeline stays unaware of DRM details: it asks this module for a `TrackEncryptor` per
track, for HLS key lines per track and for DASH ContentProtection elements per track.
Keys come from a `KeyProvider` (local store, operator keys, or a CPIX/SPEKE server), one per
label (AUDIO / SD / HD / UHD). Key material never leaves this module except into the
encryptor; summaries carry KIDs only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from drm.encryption.sample import TrackEncryptor
from drm.keys import ContentKey, DrmError, KeyProvider, kid_uuid, label_for
from drm.signalling.dash import dash_content_protection
from drm.signalling.hls import hls_key_lines
from drm.signalling.pssh import SYSTEMS, system_pssh_boxes
from pipeline.media.presentation import Track
from pipeline.mp4.base import parse_box

SCHEMES = ("cenc", "cbcs", "both")
# Sidecar subtitles and scrubbing thumbnails stay clear (players draw them themselves); the
# origin serves them only under the title's token.
CLEAR_KINDS = ("text", "image")


def parse_systems(value: str) -> list[str]:
    """`clearkey`, `widevine,playready,fairplay` or `all` -> ordered unique system names."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if names == ["all"]:
        return list(SYSTEMS)
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown or not names:
        raise DrmError(
            f"unknown DRM system {', '.join(unknown) or value!r}; use {', '.join(SYSTEMS)} or all"
        )
    return list(dict.fromkeys(names))


@dataclass
class Protection:
    """One title's protection: systems, scheme(s), keys per label, optional licence URL."""

    systems: list[str]
    scheme: str  # cenc | cbcs | both
    provider: KeyProvider
    license_url: str | None = None
    keys: dict[str, ContentKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise DrmError(f"unknown scheme {self.scheme!r}; use cenc, cbcs or both")
        if "fairplay" in self.systems and self.scheme == "cenc":
            raise DrmError("FairPlay needs cbcs: use --scheme cbcs or --scheme both")

    # -- which segment sets ---------------------------------------------------------------
    @property
    def segment_schemes(self) -> list[str]:
        """`both` packages a cenc set (for DASH) and a cbcs set (for HLS)."""
        return ["cenc", "cbcs"] if self.scheme == "both" else [self.scheme]

    def hls_scheme(self) -> str:
        return "cbcs" if self.scheme == "both" else self.scheme

    def dash_scheme(self) -> str:
        return "cenc" if self.scheme == "both" else self.scheme

    @property
    def dash_systems(self) -> list[str]:
        return [s for s in self.systems if s != "fairplay"]

    def hls_systems(self, scheme: str) -> list[str]:
        return [s for s in self.systems if s != "fairplay" or scheme == "cbcs"]

    @property
    def la_urls(self) -> dict[str, str] | None:
        """The ClearKey licence URL (DASH dashif:laurl; HLS key-delivery base)."""
        return {"clearkey": self.license_url} if self.license_url else None

    # -- keys -----------------------------------------------------------------------------
    def load_keys(self, title_id: str, labels: Sequence[str]) -> None:
        wanted = list(dict.fromkeys(labels))
        self.keys = self.provider.keys_for(title_id, wanted)
        missing = [lb for lb in wanted if lb not in self.keys]
        if missing:
            raise DrmError(f"no content key for label(s) {', '.join(missing)}")

    def key_for(self, kind: str, height: int | None) -> ContentKey:
        return self.keys[label_for(kind, height)]

    def kids_by_label(self) -> dict[str, str]:
        """For summaries and logs: KIDs only, never keys."""
        return {label: kid_uuid(k.kid) for label, k in self.keys.items()}

    # -- per-track hooks ------------------------------------------------------------------
    def encryptor(self, scheme: str, key: ContentKey) -> TrackEncryptor:
        boxes = system_pssh_boxes(
            self.dash_systems, scheme, key.kid, key=key.key, la_url=self.la_urls
        )
        return TrackEncryptor(
            scheme, key.kid, key.key, pssh=[parse_box(b)[0] for b in boxes.values()]
        )

    def track_key(self, track: Track) -> ContentKey:
        return self.key_for(track.kind, track.height)

    def hls_key_lines(self, track: Track) -> list[str]:
        if track.kind in CLEAR_KINDS:
            return []
        key = self.track_key(track)
        scheme = self.hls_scheme()
        return hls_key_lines(
            self.hls_systems(scheme), scheme, key.kid, key=key.key, la_url=self.la_urls
        )

    def hls_session_key_lines(self, tracks: Sequence[Track]) -> list[str]:
        scheme = self.hls_scheme()
        lines: list[str] = []
        seen: set[bytes] = set()
        for track in tracks:
            if track.kind in CLEAR_KINDS:
                continue
            key = self.track_key(track)
            if key.kid in seen:
                continue
            seen.add(key.kid)
            lines += hls_key_lines(
                self.hls_systems(scheme),
                scheme,
                key.kid,
                key=key.key,
                la_url=self.la_urls,
                tag="EXT-X-SESSION-KEY",
            )
        return lines

    def dash_content_protection(self, track: Track) -> list[etree._Element]:
        if track.kind in CLEAR_KINDS:
            return []
        key = self.track_key(track)
        return dash_content_protection(
            self.dash_scheme(),
            key.kid,
            self.dash_systems,
            keys={key.kid: key.key},
            la_url=self.la_urls,
        )
