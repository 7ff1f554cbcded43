"""HLS playlists (RFC 8216, fMP4) written from the measured Presentation: text in, text out.

Layout: master.m3u8, <id>.m3u8 and <id>_iframes.m3u8 (thumbnails: <id>.m3u8 image playlists,
see `images`) at the top of the title directory, so
every URI inside is the Presentation's own title-relative URI ("v720/3.m4s").

Choices: EXT-X-VERSION 7 everywhere (EXT-X-MAP in a non-I-frame playlist needs 6);
EXT-X-MEDIA-SEQUENCE equals the first segment's number (1, the same as DASH $Number$);
TARGETDURATION is the ceiling of the longest printed EXTINF (see manifest_util.target_duration).
Audio renditions are grouped by codec family ("aac", "ec-3") and every video rung is listed once
per group, so a player that cannot decode E-AC-3 never picks a variant that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.errors import PackageError
from pipeline.manifest.common import (
    audio_family,
    average_bitrate,
    default_audio,
    extinf,
    hls_frame_rate,
    peak_bitrate,
    target_duration,
)
from pipeline.manifest.images import image_playlist, image_playlist_name, image_stream_inf
from pipeline.media.presentation import Presentation, Track

VERSION = 7
SUBTITLE_GROUP = "subs"
MASTER = "master.m3u8"

KeyLines = Sequence[str] | Callable[[Track], Sequence[str]]


def playlist_name(track: Track) -> str:
    return f"{track.id}.m3u8"


def iframe_playlist_name(track: Track) -> str:
    return f"{track.id}_iframes.m3u8"


def write_hls(
    p: Presentation,
    *,
    key_lines: KeyLines = (),
    session_key_lines: Sequence[str] = (),
) -> dict[str, str]:
    """Every playlist of the title as {file name relative to the title directory: text}.

    `key_lines` are EXT-X-KEY lines for the audio/video media and I-frame playlists: one list
    for all, or a function of the track (multi-key titles). `session_key_lines` are the
    EXT-X-SESSION-KEY lines of the master. Subtitle playlists are never given keys.
    """
    keys_for = key_lines if callable(key_lines) else (lambda _t: key_lines)
    out = {MASTER: master_playlist(p, session_key_lines=session_key_lines)}
    for t in p.tracks:
        if t.kind == "text":
            out[playlist_name(t)] = subtitle_playlist(t, _title_seconds(p))
            continue
        if t.kind == "image":
            out[image_playlist_name(t)] = image_playlist(t, VERSION)
            continue
        out[playlist_name(t)] = media_playlist(t, key_lines=keys_for(t))
        if t.kind == "video" and t.key_frames:
            out[iframe_playlist_name(t)] = iframe_playlist(t, key_lines=keys_for(t))
    return out


# --- master -------------------------------------------------------------------------------


def master_playlist(p: Presentation, *, session_key_lines: Sequence[str] = ()) -> str:
    video, audio, text = p.of_kind("video"), p.of_kind("audio"), p.of_kind("text")
    if not video and not audio:
        raise PackageError(f"{p.title_id}/{MASTER}", "no audio or video track to describe")
    for t in video:
        _require_video_fields(p, t)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += list(session_key_lines)

    groups = _audio_groups(audio) if video else {}
    if groups:
        lines.append("")
        lines += _audio_media_lines(p, groups)
    if text:
        lines.append("")
        lines += [_subtitle_media_line(t) for t in text]

    variants: list[tuple[int, str, str]] = []  # (bandwidth, STREAM-INF line, uri)
    subs = f',SUBTITLES="{SUBTITLE_GROUP}"' if text else ""
    if video:
        for v in video:
            for group_id, members in groups.items() or [(None, [])]:
                variants.append(_video_variant(v, group_id, members, subs))
    else:  # audio-only title: each audio playlist is a variant of its own
        for a in audio:
            attrs = (
                f'BANDWIDTH={_peak(a)},AVERAGE-BANDWIDTH={_average(a)},CODECS="{a.codecs}"{subs}'
            )
            variants.append((_peak(a), f"#EXT-X-STREAM-INF:{attrs}", playlist_name(a)))
    lines.append("")
    for _bw, inf, uri in sorted(variants, key=lambda v: v[0]):
        lines += [inf, uri]

    iframes = [v for v in video if v.key_frames]
    if iframes:
        lines.append("")
        lines += [_iframe_stream_line(v) for v in sorted(iframes, key=_iframe_peak)]
    images = p.of_kind("image")
    if images:
        lines.append("")
        lines += [image_stream_inf(t) for t in images]
    return "\n".join(lines) + "\n"


def _audio_groups(audio: Sequence[Track]) -> dict[str, list[Track]]:
    """One group per codec family and channel layout (Apple's authoring rules: a player
    switches only within a group, so stereo and 5.1 never share one); the group keeps the
    family's name when the family has a single layout."""
    by_layout: dict[tuple[str, int | None, bool], list[Track]] = {}
    for a in audio:
        by_layout.setdefault((audio_family(a.codecs), a.channels, a.joc), []).append(a)
    layouts_per_family: dict[str, int] = {}
    for family, _, _ in by_layout:
        layouts_per_family[family] = layouts_per_family.get(family, 0) + 1
    groups: dict[str, list[Track]] = {}
    for (family, channels, joc), members in by_layout.items():
        if layouts_per_family[family] == 1:
            groups[family] = members
        else:
            groups[f"{family}-{channels or 2}ch{'-joc' if joc else ''}"] = members
    return groups


def _audio_media_lines(p: Presentation, groups: dict[str, list[Track]]) -> list[str]:
    title_default = default_audio(p)
    lines = []
    for group_id, members in groups.items():
        default = _group_default(members, title_default)
        names: set[str] = set()
        for a in members:
            name = _unique(_q(a.name or a.language), names)
            attrs = [
                "TYPE=AUDIO",
                f'GROUP-ID="{group_id}"',
                f'LANGUAGE="{_q(a.language)}"',
                f'NAME="{name}"',
                f"DEFAULT={'YES' if a is default else 'NO'}",
                "AUTOSELECT=YES",
            ]
            if a.channels:
                attrs.append(f'CHANNELS="{hls_channels(a)}"')
            attrs.append(f'URI="{playlist_name(a)}"')
            lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
    return lines


def hls_channels(a: Track) -> str:
    """CHANNELS: the channel count, or "16/JOC" for Dolby Atmos in E-AC-3 (RFC 8216bis
    4.4.6.1: the count of objects an Atmos decoder may render, then the coding)."""
    return "16/JOC" if a.joc else str(a.channels)


def _group_default(members: list[Track], title_default: Track | None) -> Track:
    """One DEFAULT=YES per group: the title default if here, else its language, else the first."""
    if title_default is not None:
        if any(m is title_default for m in members):
            return title_default
        same_lang = [m for m in members if m.language == title_default.language]
        if same_lang:
            return same_lang[0]
    return members[0]


def _subtitle_media_line(t: Track) -> str:
    attrs = [
        "TYPE=SUBTITLES",
        f'GROUP-ID="{SUBTITLE_GROUP}"',
        f'LANGUAGE="{_q(t.language)}"',
        f'NAME="{_q(t.name or t.language)}"',
        "DEFAULT=NO",
        "AUTOSELECT=YES",
        f'URI="{playlist_name(t)}"',
    ]
    return "#EXT-X-MEDIA:" + ",".join(attrs)


def _video_variant(
    v: Track, group_id: str | None, members: list[Track], subs: str
) -> tuple[int, str, str]:
    peak = _peak(v) + max((_peak(a) for a in members), default=0)
    avg = _average(v) + max((_average(a) for a in members), default=0)
    codecs = [v.codecs] + _distinct(a.codecs for a in members)
    attrs = (
        f"BANDWIDTH={peak},AVERAGE-BANDWIDTH={avg},"
        f'CODECS="{",".join(codecs)}",RESOLUTION={v.width}x{v.height},'
        f"FRAME-RATE={hls_frame_rate(v.frame_rate or '')}"
    )
    if group_id is not None:
        attrs += f',AUDIO="{group_id}"'
    attrs += subs + ",CLOSED-CAPTIONS=NONE"
    return peak, f"#EXT-X-STREAM-INF:{attrs}", playlist_name(v)


def _iframe_stream_line(v: Track) -> str:
    chunks = _iframe_chunks(v)
    attrs = (
        f"BANDWIDTH={_iframe_peak(v)},AVERAGE-BANDWIDTH={average_bitrate(chunks)},"
        f'CODECS="{v.codecs}",RESOLUTION={v.width}x{v.height},'
        f'URI="{iframe_playlist_name(v)}"'
    )
    return f"#EXT-X-I-FRAME-STREAM-INF:{attrs}"


# --- media playlists --------------------------------------------------------------------


def media_playlist(track: Track, *, key_lines: Sequence[str] = ()) -> str:
    """Audio or video media playlist: EXT-X-MAP, one EXTINF per segment, ENDLIST."""
    if not track.segments or not track.init_uri:
        raise PackageError(track.id, f"{track.kind} track has no segments or init segment")
    infs = [extinf(s.duration, track.timescale) for s in track.segments]
    lines = _media_header(target_duration(infs), track.segments[0].number)
    lines += list(key_lines)
    lines.append(f'#EXT-X-MAP:URI="{track.init_uri}"')
    for seg, inf in zip(track.segments, infs, strict=True):
        lines += [f"#EXTINF:{inf},", seg.uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def iframe_playlist(track: Track, *, key_lines: Sequence[str] = ()) -> str:
    """I-frame playlist: each key frame as a byte range (moof + IDR) of its segment."""
    if not track.key_frames or not track.init_uri:
        raise PackageError(track.id, "video track has no key frames or init segment")
    uris = {s.number: s.uri for s in track.segments}
    infs = [extinf(k.duration, track.timescale) for k in track.key_frames]
    lines = _media_header(target_duration(infs), 1)
    lines.insert(2, "#EXT-X-I-FRAMES-ONLY")
    lines += list(key_lines)
    lines.append(f'#EXT-X-MAP:URI="{track.init_uri}"')
    for k, inf in zip(track.key_frames, infs, strict=True):
        if k.segment_number not in uris:
            raise PackageError(track.id, f"key frame points at missing segment {k.segment_number}")
        lines += [f"#EXTINF:{inf},", f"#EXT-X-BYTERANGE:{k.length}@{k.offset}"]
        lines.append(uris[k.segment_number])
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def subtitle_playlist(track: Track, duration: float) -> str:
    """A WebVTT sidecar as one segment that spans the whole title."""
    if not track.uri:
        raise PackageError(track.id, "text track has no WebVTT file")
    units = round(duration * 1000)
    inf = extinf(units, 1000)
    lines = _media_header(target_duration([inf]), 1)
    lines += [f"#EXTINF:{inf},", track.uri, "#EXT-X-ENDLIST"]
    return "\n".join(lines) + "\n"


def _media_header(target: int, first_number: int) -> list[str]:
    return [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first_number}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]


# --- numbers -----------------------------------------------------------------------------


def _segment_chunks(t: Track) -> list[tuple[int, float]]:
    return [(s.size, s.duration / t.timescale) for s in t.segments]


def _iframe_chunks(t: Track) -> list[tuple[int, float]]:
    return [(k.length, k.duration / t.timescale) for k in t.key_frames]


def _peak(t: Track) -> int:
    """The measured peak, or (if the packager left it at 0) the RFC 8216 peak of the segments."""
    if t.bandwidth:
        return t.bandwidth
    target = target_duration([extinf(s.duration, t.timescale) for s in t.segments])
    return peak_bitrate(_segment_chunks(t), target)


def _average(t: Track) -> int:
    return t.average_bandwidth or average_bitrate(_segment_chunks(t))


def _iframe_peak(t: Track) -> int:
    infs = [extinf(k.duration, t.timescale) for k in t.key_frames]
    return peak_bitrate(_iframe_chunks(t), target_duration(infs))


def _title_seconds(p: Presentation) -> float:
    return p.duration or max((t.duration_seconds for t in p.tracks), default=0.0)


def _require_video_fields(p: Presentation, t: Track) -> None:
    missing = [f for f in ("width", "height", "frame_rate") if not getattr(t, f)]
    if missing:
        raise PackageError(
            f"{p.title_id}/{MASTER}", f"video track {t.id} lacks {', '.join(missing)}"
        )


def _distinct(items) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _unique(name: str, used: set[str]) -> str:
    """NAME must be unique within a group: 'English', 'English (2)'."""
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name} ({n})", n + 1
    used.add(candidate)
    return candidate


def _q(value: str) -> str:
    """A quoted-string may not hold '"', CR or LF (RFC 8216 4.2)."""
    return value.replace('"', "'").replace("\r", " ").replace("\n", " ")
