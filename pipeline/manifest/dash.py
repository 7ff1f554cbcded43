"""A static DASH MPD (ISO/IEC 23009-1, live profile) written from the measured Presentation.

Choices: only the isoff-live profile is declared (every player accepts it; claiming the CMAF
profile would promise conformance we do not check). One SegmentTemplate + SegmentTimeline per
Representation, with title-relative URIs ("v720/init.mp4", "v720/$Number$.m4s"), so audio and
video keep their own exact timelines. Adaptation sets: one per video codec family, one per
audio (language, codec family, channel count) — only seamlessly switchable renditions share a
set — one per text track and one per thumbnail size (`_image_set`). Roles: the set holding
the title's default audio is "main", the other audio sets "alternate"; video is "main", text
"subtitle".
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction

from lxml import etree

from core.errors import PackageError
from pipeline.manifest.common import (
    audio_family,
    dash_frame_rate,
    default_audio,
    frame_rate_fraction,
    is_dolby,
    iso_duration,
)
from pipeline.manifest.images import layout, require_image_fields
from pipeline.media.presentation import Presentation, Segment, Track

__all__ = ["write_mpd", "iso_duration", "segment_timeline", "NSMAP", "ContentProtectionHook"]

NS_MPD = "urn:mpeg:dash:schema:mpd:2011"
NS_CENC = "urn:mpeg:cenc:2013"
NS_MSPR = "urn:microsoft:playready"
NS_DASHIF = "https://dashif.org/CPS"
NSMAP = {None: NS_MPD, "cenc": NS_CENC, "mspr": NS_MSPR, "dashif": NS_DASHIF}
PROFILE = "urn:mpeg:dash:profile:isoff-live:2011"
ROLE_SCHEME = "urn:mpeg:dash:role:2011"
MPEG_CHANNELS = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
DOLBY_CHANNELS = "tag:dolby.com,2014:dash:audio_channel_configuration:2011"
DOLBY_EC3_EXTENSION = "tag:dolby.com,2018:dash:EC3_ExtensionType:2018"  # value JOC: Atmos
THUMBNAIL_SCHEME = "http://dashif.org/thumbnail_tile"
TEXT_BANDWIDTH = 256  # nominal: a sidecar is fetched once, the number only has to be valid

# Dolby channel masks (ETSI TS 102 366 Annex E: L=0x8000 C R Ls Rs ... LFE=0x0001) for the
# usual layouts of a channel count; other counts fall back to the MPEG scheme.
_DOLBY_MASKS = {1: "4000", 2: "A000", 3: "E000", 5: "F800", 6: "F801", 8: "FA01"}

ContentProtectionHook = Callable[[Track], list[etree._Element]]


def write_mpd(p: Presentation, *, content_protection: ContentProtectionHook | None = None) -> str:
    """The title's manifest.mpd as text.

    `content_protection(track)` returns the ContentProtection elements for one audio/video
    track; they land on the AdaptationSet when every Representation of the set gets the same
    ones, else on each Representation, always where the schema wants them (after
    AudioChannelConfiguration, before Role / SegmentTemplate). The cenc, mspr and dashif
    prefixes are declared on the MPD root.
    """
    audio_video = [t for t in p.tracks if t.kind in ("video", "audio")]
    if not audio_video:
        raise PackageError(f"{p.title_id}/manifest.mpd", "no audio or video track to describe")
    longest = max((s.duration / t.timescale for t in audio_video for s in t.segments), default=0.0)
    root = etree.Element(_n("MPD"), nsmap=NSMAP)
    root.set("profiles", PROFILE)
    root.set("type", "static")
    root.set("mediaPresentationDuration", iso_duration(_title_seconds(p)))
    root.set("maxSegmentDuration", iso_duration(longest))
    root.set("minBufferTime", "PT2S")
    period = _sub(root, "Period", id="0", start="PT0S")

    next_id = itertools.count()
    for tracks in _video_sets(p.of_kind("video")):
        _video_set(period, next(next_id), tracks, content_protection)
    main = default_audio(p)
    for tracks in _audio_sets(p.of_kind("audio")):
        role = "main" if any(t is main for t in tracks) else "alternate"
        _audio_set(period, next(next_id), tracks, role, content_protection)
    for t in p.of_kind("text"):
        _text_set(period, next(next_id), t)
    for t in p.of_kind("image"):
        _image_set(period, next(next_id), t)

    etree.cleanup_namespaces(root, top_nsmap=NSMAP, keep_ns_prefixes=["cenc", "mspr", "dashif"])
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def segment_timeline(segments: Sequence[Segment]) -> list[tuple[int | None, int, int]]:
    """Run-length (t, d, r) entries; t is None when the entry follows on without a gap."""
    entries: list[tuple[int | None, int, int]] = []
    expected: int | None = None
    for s in segments:
        if entries and s.start == expected and s.duration == entries[-1][1]:
            t, d, r = entries[-1]
            entries[-1] = (t, d, r + 1)
        else:
            entries.append((None if s.start == expected else s.start, s.duration, 0))
        expected = s.start + s.duration
    return entries


# --- adaptation sets ---------------------------------------------------------------------


def _video_sets(video: Sequence[Track]) -> list[list[Track]]:
    groups: dict[str, list[Track]] = {}
    for v in video:
        groups.setdefault(_video_family(v.codecs), []).append(v)
    return list(groups.values())


def _audio_sets(audio: Sequence[Track]) -> list[list[Track]]:
    """One AdaptationSet per language, codec family and channel layout: players switch only
    within a set, so a stereo-only device never lands on the 5.1 rendition."""
    groups: dict[tuple[str, str, int | None, bool], list[Track]] = {}
    for a in audio:
        key = (a.language, audio_family(a.codecs), a.channels, a.joc)
        groups.setdefault(key, []).append(a)
    return list(groups.values())


def _video_set(
    period: etree._Element, set_id: int, tracks: list[Track], cp: ContentProtectionHook | None
) -> None:
    for t in tracks:
        if not (t.width and t.height and t.frame_rate):
            raise PackageError(t.id, "video track lacks width, height or frame rate")
    top = max(tracks, key=lambda t: (t.width * t.height, t.bandwidth))  # type: ignore[operator]
    fastest = max(tracks, key=lambda t: frame_rate_fraction(t.frame_rate or "0/1"))
    par = Fraction(top.width or 1, top.height or 1)
    aset = _sub(
        period,
        "AdaptationSet",
        id=str(set_id),
        contentType="video",
        mimeType="video/mp4",
        segmentAlignment="true",
        startWithSAP="1",
        maxWidth=str(max(t.width or 0 for t in tracks)),
        maxHeight=str(max(t.height or 0 for t in tracks)),
        maxFrameRate=dash_frame_rate(fastest.frame_rate or ""),
        par=f"{par.numerator}:{par.denominator}",
    )
    per_rep = _protection(aset, tracks, cp)
    _sub(aset, "Role", schemeIdUri=ROLE_SCHEME, value="main")
    for t in sorted(tracks, key=lambda t: t.bandwidth):
        rep = _sub(
            aset,
            "Representation",
            id=t.id,
            bandwidth=str(_bandwidth(t)),
            codecs=t.codecs,
            width=str(t.width),
            height=str(t.height),
            frameRate=dash_frame_rate(t.frame_rate or ""),
            sar="1:1",
        )
        _media(rep, t, per_rep.get(t.id, []))


def _audio_set(
    period: etree._Element,
    set_id: int,
    tracks: list[Track],
    role: str,
    cp: ContentProtectionHook | None,
) -> None:
    first = tracks[0]
    aset = _sub(
        period,
        "AdaptationSet",
        id=str(set_id),
        contentType="audio",
        mimeType="audio/mp4",
        lang=first.language,
        segmentAlignment="true",
        startWithSAP="1",
    )
    if first.channels:
        _sub(aset, "AudioChannelConfiguration", **_channel_config(first))
    per_rep = _protection(aset, tracks, cp)
    if first.joc:
        _sub(aset, "SupplementalProperty", schemeIdUri=DOLBY_EC3_EXTENSION, value="JOC")
    _sub(aset, "Role", schemeIdUri=ROLE_SCHEME, value=role)
    for t in sorted(tracks, key=lambda t: t.bandwidth):
        attrs = {"id": t.id, "bandwidth": str(_bandwidth(t)), "codecs": t.codecs}
        if t.sample_rate:
            attrs["audioSamplingRate"] = str(t.sample_rate)
        rep = _sub(aset, "Representation", **attrs)
        _media(rep, t, per_rep.get(t.id, []))


def _text_set(period: etree._Element, set_id: int, t: Track) -> None:
    if not t.uri:
        raise PackageError(t.id, "text track has no WebVTT file")
    aset = _sub(
        period,
        "AdaptationSet",
        id=str(set_id),
        contentType="text",
        mimeType="text/vtt",
        lang=t.language,
    )
    _sub(aset, "Role", schemeIdUri=ROLE_SCHEME, value="subtitle")
    rep = _sub(aset, "Representation", id=t.id, bandwidth=str(t.bandwidth or TEXT_BANDWIDTH))
    _sub(rep, "BaseURL").text = t.uri


def _channel_config(t: Track) -> dict[str, str]:
    channels = t.channels or 2
    if is_dolby(t.codecs) and channels in _DOLBY_MASKS:
        return {"schemeIdUri": DOLBY_CHANNELS, "value": _DOLBY_MASKS[channels]}
    return {"schemeIdUri": MPEG_CHANNELS, "value": str(channels)}


def _protection(
    aset: etree._Element, tracks: list[Track], cp: ContentProtectionHook | None
) -> dict[str, list[etree._Element]]:
    """Append shared ContentProtection to the set; return the per-Representation ones, if any."""
    if cp is None:
        return {}
    per_track = {t.id: list(cp(t)) for t in tracks}
    serialized = {tuple(etree.tostring(e) for e in els) for els in per_track.values()}
    if len(serialized) == 1:
        for e in per_track[tracks[0].id]:
            aset.append(copy.deepcopy(e))
        return {}
    return per_track


def _image_set(period: etree._Element, set_id: int, t: Track) -> None:
    """Thumbnails per DASH-IF IOP 6.2.6: the Representation's size is the whole tile image,
    the thumbnail_tile property its grid, and the template's @duration the time one image
    covers (players divide it by the grid to place each thumbnail; no timeline, whose shorter
    last entry would squeeze the last image's thumbnails)."""
    require_image_fields(t)  # as the HLS writer does: segments, size, timing and grid
    columns, rows = layout(t)
    seconds = t.tile_seconds * columns * rows  # type: ignore[operator]
    aset = _sub(
        period,
        "AdaptationSet",
        id=str(set_id),
        contentType="image",
        mimeType="image/jpeg",
    )
    rep = _sub(
        aset,
        "Representation",
        id=t.id,
        bandwidth=str(_bandwidth(t)),
        width=str(t.width * columns),  # type: ignore[operator]
        height=str(t.height * rows),  # type: ignore[operator]
    )
    # on the Representation, as in DASH-IF's examples: shaka-player looks nowhere else
    _sub(rep, "EssentialProperty", schemeIdUri=THUMBNAIL_SCHEME, value=f"{columns}x{rows}")
    _sub(
        rep,
        "SegmentTemplate",
        media=t.segment_template or f"{t.id}/$Number$.jpg",
        duration=str(round(seconds * t.timescale)),
        timescale=str(t.timescale),
        startNumber=str(t.segments[0].number),
    )


# --- segments ----------------------------------------------------------------------------


def _media(rep: etree._Element, t: Track, protection: list[etree._Element]) -> None:
    """ContentProtection (when per Representation), then SegmentTemplate + SegmentTimeline."""
    for e in protection:
        rep.append(copy.deepcopy(e))
    if not t.segments or not t.init_uri:
        raise PackageError(t.id, f"{t.kind} track has no segments or init segment")
    media = t.segment_template or f"{t.id}/$Number$.m4s"
    first = t.segments[0].number
    for i, s in enumerate(t.segments):
        if s.number != first + i:
            raise PackageError(t.id, f"segment numbers jump from {first + i - 1} to {s.number}")
        if media.replace("$Number$", str(s.number)) != s.uri:
            raise PackageError(t.id, f"segment {s.number} URI {s.uri!r} does not match {media!r}")
    tmpl = _sub(
        rep,
        "SegmentTemplate",
        timescale=str(t.timescale),
        initialization=t.init_uri,
        media=media,
        startNumber=str(first),
    )
    timeline = _sub(tmpl, "SegmentTimeline")
    for start, d, r in segment_timeline(t.segments):
        s_el = _sub(timeline, "S")
        if start is not None:
            s_el.set("t", str(start))
        s_el.set("d", str(d))
        if r:
            s_el.set("r", str(r))


def _bandwidth(t: Track) -> int:
    """@bandwidth is the measured peak; when missing, the peak segment bit rate."""
    if t.bandwidth:
        return t.bandwidth
    rates = [s.size * 8 * t.timescale / s.duration for s in t.segments if s.duration]
    return math.ceil(max(rates, default=1))


def _video_family(codecs: str) -> str:
    c = codecs.split(".")[0].lower()
    return {"avc3": "avc1", "hev1": "hvc1", "dvhe": "dvh1"}.get(c, c)


def _title_seconds(p: Presentation) -> float:
    return p.duration or max((t.duration_seconds for t in p.tracks), default=0.0)


def _n(tag: str) -> str:
    return f"{{{NS_MPD}}}{tag}"


def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, _n(tag))
    for k, v in attrs.items():
        el.set(k, v)
    return el
