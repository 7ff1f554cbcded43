"""DASH checks: a safe MPD parse, SegmentTemplate resolution, and manifest-vs-media agreement.

The MPD is first parsed by lxml with entity resolution, DTD loading and network access off;
any DTD (internal subset included) is refused outright, so neither an external entity (XXE)
nor an entity expansion bomb ever reaches a parser that would honour it. Only the root
element, re-serialised by lxml, is handed to `mpegdash` (whose own loader would fetch URLs).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from xml.dom import minidom

from lxml import etree
from mpegdash.nodes import MPEGDASH
from mpegdash.utils import parse_child_nodes

from core.xml_safety import DoctypeRefused, NotWellFormed, parse_xml
from pipeline.validate.fetch import FetchError, resolve
from pipeline.validate.hls import StatsLookup, frame_seconds, pct, within
from pipeline.validate.images import ImageTrack, dash_image_track
from pipeline.validate.media import MediaError, MediaStore, analyze_segment, report_fetch_error
from pipeline.validate.model import Sink

THUMBNAIL_SCHEMES = (
    "http://dashif.org/thumbnail_tile",
    "http://dashif.org/guidelines/thumbnail_tile",
)
MAX_SEGMENTS = 200_000  # per Representation: a hostile @r must not exhaust memory
_TEMPLATE_VAR = re.compile(r"\$(RepresentationID|Number|Time|Bandwidth|SubNumber)?(%0\d+d)?\$")
_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str | None) -> float | None:
    """xs:duration -> seconds (years and months counted as 365 and 30 days)."""
    if not text:
        return None
    m = _DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT"):
        raise ValueError(f"bad xs:duration {text!r}")
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    days = g["y"] * 365 + g["mo"] * 30 + g["d"]
    return days * 86400 + g["h"] * 3600 + g["mi"] * 60 + g["s"]


def safe_xml(data: bytes) -> etree._Element:
    """Parse XML with no network, no DTD, no entity expansion; refuse any DOCTYPE/ENTITY.

    The parse is `core.xml_safety`'s; its refusals become UnsafeXml, and malformed XML
    raises lxml's own XMLSyntaxError.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise UnsafeXml("the document declares a DTD or entities")
    try:
        root = parse_xml(data, "MPD", remove_pis=True)
    except DoctypeRefused:
        raise UnsafeXml("the document declares a DTD") from None
    except NotWellFormed as e:
        raise e.syntax_error from None
    for el in root.iter():
        if isinstance(el, etree._Entity):  # an unresolved entity reference
            raise UnsafeXml("the document uses entity references")
    return root


class UnsafeXml(Exception):
    pass


def expand_template(
    template: str, rep_id: str, bandwidth: int | None, number: int, time: int
) -> str:
    def sub(m: re.Match[str]) -> str:
        name, fmt = m.group(1), m.group(2)
        if name is None:
            return "$"
        value: str | int = {
            "RepresentationID": rep_id,
            "Number": number,
            "Time": time,
            "Bandwidth": bandwidth or 0,
            "SubNumber": 0,
        }[name]
        if fmt and isinstance(value, int):
            return fmt % value
        return str(value)

    return _TEMPLATE_VAR.sub(sub, template)


@dataclass
class DashSegment:
    uri: str
    number: int
    t: int | None  # None with SegmentTemplate@duration (no timeline)
    d: int


@dataclass
class Representation:
    id: str
    kind: str  # "video" | "audio" | "text" | ""
    bandwidth: int | None
    codecs: str | None
    timescale: int
    start_number: int
    init: str | None
    segments: list[DashSegment] = field(default_factory=list)
    template: str | None = None
    base: str = ""
    timeline: bool = True
    adaptation_set: str = ""  # "@id" of its AdaptationSet, else "#<period>.<position>"
    channel_config: tuple[str, str] | None = None  # AudioChannelConfiguration (scheme, value)


@dataclass
class DashTitle:
    mpd: str
    duration: float | None = None
    representations: list[Representation] = field(default_factory=list)
    images: list[ImageTrack] = field(default_factory=list)


def _first(items):
    return items[0] if items else None


def _merged_template(*levels) -> dict | None:
    """SegmentTemplate attributes, inner levels overriding outer ones (Period < AS < Rep)."""
    merged: dict = {}
    found = False
    for level in levels:
        tmpl = _first(getattr(level, "segment_templates", None))
        if tmpl is None:
            continue
        found = True
        for attr in (
            "media",
            "initialization",
            "timescale",
            "start_number",
            "duration",
            "presentation_time_offset",
        ):
            value = getattr(tmpl, attr)
            if value is not None:
                merged[attr] = value
        if tmpl.segment_timelines:
            merged["timeline"] = tmpl.segment_timelines[0]
    return merged if found else None


def _channel_config(node) -> tuple[str, str] | None:
    """(schemeIdUri, value) of a node's first AudioChannelConfiguration, if any."""
    config = _first(getattr(node, "audio_channel_configurations", None))
    if config is None or config.scheme_id_uri is None or config.value is None:
        return None
    return str(config.scheme_id_uri), str(config.value)


class DashChecker:
    def __init__(self, mpd_uri: str, media: MediaStore, sink: Sink):
        self.mpd_uri = mpd_uri
        self.media = media
        self.fetcher = media.fetcher
        self.sink = sink
        self.title = DashTitle(mpd_uri)

    # -- phase 1: text ------------------------------------------------------------------
    def parse(self) -> DashTitle:
        uri = self.mpd_uri
        try:
            data = self.fetcher.get(uri, cache=True, limit=16 * 1024 * 1024)
        except FetchError as e:
            report_fetch_error(self.sink, e)
            return self.title
        if not data.strip():
            self.sink.add("file.empty", uri, "MPD is empty")
            return self.title
        try:
            root = safe_xml(data)
        except UnsafeXml as e:
            self.sink.add("dash.xml_unsafe", uri, f"refused: {e}")
            return self.title
        except etree.XMLSyntaxError as e:
            self.sink.add("dash.parse", uri, f"not well-formed XML: {e}")
            return self.title
        try:
            clean = etree.tostring(root, encoding="utf-8")
            dom = minidom.parseString(clean)
            mpd = _first(parse_child_nodes(dom, "MPD", MPEGDASH))
            if mpd is None:
                raise ValueError(f"root element is <{etree.QName(root).localname}>, not <MPD>")
            self._walk(mpd)
        except (ValueError, TypeError, AttributeError) as e:
            self.sink.add("dash.parse", uri, f"cannot read the MPD: {e}")
        return self.title

    def _walk(self, mpd: MPEGDASH) -> None:
        uri = self.mpd_uri
        if mpd.type is not None and mpd.type != "static":
            self.sink.add("dash.type", uri, f"MPD@type is {mpd.type!r}; a VOD title is static")
        total = parse_duration(mpd.media_presentation_duration)
        self.title.duration = total
        base = self._base(uri, mpd)
        periods = mpd.periods or []
        if not periods:
            self.sink.add("dash.parse", uri, "no Period")
        for i, period in enumerate(periods):
            start = parse_duration(period.start) or 0.0
            length = parse_duration(period.duration)
            if length is None and i + 1 < len(periods) and periods[i + 1].start:
                length = (parse_duration(periods[i + 1].start) or 0.0) - start
            if length is None and total is not None:
                length = total - start
            p_base = self._base(base, period)
            for j, aset in enumerate(period.adaptation_sets or []):
                a_base = self._base(p_base, aset)
                key = f"@id={aset.id}" if aset.id is not None else f"#{i + 1}.{j + 1}"
                for rep in aset.representations or []:
                    before = len(self.title.representations)
                    self._representation(period, aset, rep, self._base(a_base, rep), length)
                    for added in self.title.representations[before:]:
                        added.adaptation_set = key
                        added.channel_config = _channel_config(rep) or _channel_config(aset)

    @staticmethod
    def _base(base: str, node) -> str:
        b = _first(getattr(node, "base_urls", None))
        if b is not None and b.base_url_value:
            return resolve(base, b.base_url_value)
        return base

    def _representation(self, period, aset, rep, base: str, period_seconds: float | None):
        uri = self.mpd_uri
        rep_id = rep.id or "?"
        mime = rep.mime_type or aset.mime_type or ""
        kind = rep.content_type if hasattr(rep, "content_type") else None
        kind = kind or aset.content_type or mime.split("/")[0]
        codecs = rep.codecs or aset.codecs
        tmpl = _merged_template(period, aset, rep)
        if (kind == "text" or mime in ("text/vtt", "application/ttml+xml")) and tmpl is None:
            if rep.base_urls or aset.base_urls:
                self._check_vtt(base)
            else:
                self.sink.add(
                    "dash.template", uri, f"text Representation {rep_id} has no BaseURL or template"
                )
            return
        if tmpl is None or not tmpl.get("media"):
            self.sink.add(
                "dash.template", uri, f"Representation {rep_id} has no SegmentTemplate with @media"
            )
            return
        timescale = int(tmpl.get("timescale") or 1)
        start_number = int(tmpl["start_number"]) if tmpl.get("start_number") is not None else 1
        r = Representation(
            id=rep_id,
            kind=kind,
            bandwidth=rep.bandwidth,
            codecs=codecs,
            timescale=timescale,
            start_number=start_number,
            init=None,
            template=tmpl["media"],
            base=base,
        )
        if kind == "image":  # thumbnails: JPEG tile images, no initialization segment
            pass
        elif not tmpl.get("initialization"):
            self.sink.add(
                "dash.template",
                uri,
                f"Representation {rep_id} has no SegmentTemplate@initialization",
            )
        else:
            r.init = resolve(
                base, expand_template(tmpl["initialization"], rep_id, rep.bandwidth, 0, 0)
            )
        entries = self._entries(rep_id, tmpl, timescale, period_seconds)
        if entries is None:
            return
        if "$Number" not in tmpl["media"] and "$Time" not in tmpl["media"]:
            self.sink.add(
                "dash.template",
                uri,
                f"Representation {rep_id}: @media has neither $Number$ nor $Time$",
            )
        for k, (t, d) in enumerate(entries):
            number = start_number + k
            seg_uri = resolve(
                base, expand_template(tmpl["media"], rep_id, rep.bandwidth, number, t or 0)
            )
            r.segments.append(DashSegment(seg_uri, number, t, d))
        r.timeline = "timeline" in tmpl
        if kind != "image":
            self.title.representations.append(r)
        elif (image := dash_image_track(uri, r, rep, aset, period_seconds, self.sink)) is not None:
            self.title.images.append(image)

    def _entries(
        self, rep_id: str, tmpl: dict, timescale: int, period_seconds: float | None
    ) -> list[tuple[int | None, int]] | None:
        uri = self.mpd_uri
        timeline = tmpl.get("timeline")
        out: list[tuple[int | None, int]] = []
        if timeline is not None:
            t = 0
            end_units = period_seconds * timescale if period_seconds is not None else None
            for s in timeline.Ss or []:
                if s.d is None or s.d <= 0:
                    self.sink.add("dash.parse", uri, f"Representation {rep_id}: S without @d")
                    return None
                if s.t is not None:
                    t = s.t
                repeat = s.r or 0
                if repeat < 0:
                    if end_units is None:
                        self.sink.add(
                            "dash.parse", uri, f"Representation {rep_id}: S@r=-1 without a duration"
                        )
                        return None
                    repeat = max(0, math.ceil((end_units - t) / s.d) - 1)
                if len(out) + repeat + 1 > MAX_SEGMENTS:
                    self.sink.add(
                        "dash.parse",
                        uri,
                        f"Representation {rep_id}: more than {MAX_SEGMENTS} segments",
                    )
                    return None
                for _ in range(repeat + 1):
                    out.append((t, s.d))
                    t += s.d
            if not out:
                self.sink.add("dash.parse", uri, f"Representation {rep_id}: empty SegmentTimeline")
                return None
            return out
        duration = tmpl.get("duration")
        if not duration or period_seconds is None:
            self.sink.add(
                "dash.template",
                uri,
                f"Representation {rep_id}: SegmentTemplate has neither a "
                f"SegmentTimeline nor @duration with a known period length",
            )
            return None
        count = math.ceil(period_seconds * timescale / duration - 1e-9)
        if count > MAX_SEGMENTS:
            self.sink.add("dash.parse", uri, f"Representation {rep_id}: too many segments")
            return None
        return [(None, duration)] * count

    def _check_vtt(self, uri: str) -> None:
        data = self.media.fetch(uri, cache=True)
        if data is not None and not data.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
            self.sink.add("media.vtt", uri, "does not start with 'WEBVTT'")

    # -- phase 2: against the media -----------------------------------------------------
    def check(self, stats: StatsLookup) -> None:
        for r in self.title.representations:
            if r.init is None:
                continue
            track = self.media.track(r.init)
            if track is None:
                continue
            label = f"Representation {r.id}"
            if r.timescale != track.timescale:
                self.sink.add(
                    "dash.timescale",
                    self.mpd_uri,
                    f"{label}: SegmentTemplate@timescale={r.timescale}, mdhd "
                    f"timescale {track.timescale}",
                )
            if r.codecs is None or r.codecs.lower() != track.codecs.lower():
                self.sink.add(
                    "dash.codecs",
                    self.mpd_uri,
                    f"{label}: @codecs={r.codecs!r}, the bitstream has {track.codecs!r}",
                )
            st = stats(r.init)
            if st is not None:
                if r.bandwidth is None:
                    self.sink.add("dash.bandwidth", self.mpd_uri, f"{label} has no @bandwidth")
                elif not within(r.bandwidth, st.peak_bitrate):
                    self.sink.add(
                        "dash.bandwidth",
                        self.mpd_uri,
                        f"{label}: @bandwidth={r.bandwidth}, measured peak "
                        f"{st.peak_bitrate} b/s ({pct(r.bandwidth, st.peak_bitrate)})",
                    )
            self._check_timeline(r, track.timescale)
        self._check_duration(stats)

    def _check_timeline(self, r: Representation, media_timescale: int) -> None:
        assert r.init is not None
        infos = [self.media.segment(r.init, s.uri) for s in r.segments]
        frame = frame_seconds(infos, media_timescale)
        label = f"Representation {r.id}"
        for k, (seg, info) in enumerate(zip(r.segments, infos, strict=True)):
            first_off = (
                k == 0
                and r.timeline
                and seg.t is not None
                and (
                    info is None
                    or abs(info.presentation_start / media_timescale - seg.t / r.timescale)
                    > frame + 1e-6
                )
            )
            if first_off and self._start_number_hint(r, (seg.t or 0) / r.timescale, frame):
                return
            if info is None:
                continue
            where = self.fetcher.display(seg.uri)
            actual_d = info.duration / media_timescale
            declared_d = seg.d / r.timescale
            if r.timeline and abs(actual_d - declared_d) > frame + 1e-6:
                self.sink.add(
                    "dash.timeline_duration",
                    self.mpd_uri,
                    f"{label} segment {seg.number} ({where}): S@d {declared_d:.6f} s, "
                    f"media {actual_d:.6f} s",
                )
            if seg.t is not None:
                actual_t = info.presentation_start / media_timescale
                declared_t = seg.t / r.timescale
                if abs(actual_t - declared_t) > frame + 1e-6:
                    self.sink.add(
                        "dash.timeline_time",
                        self.mpd_uri,
                        f"{label} segment {seg.number} ({where}): S@t {declared_t:.6f}"
                        f" s, media starts at {actual_t:.6f} s",
                    )

    def _start_number_hint(self, r: Representation, first_t: float, frame: float) -> bool:
        """The first segment does not match the timeline: is startNumber off by one?"""
        assert r.init is not None and r.template is not None
        track = self.media.track(r.init)
        if track is None:
            return False
        for delta in (1, -1):
            number = r.start_number + delta
            probe = resolve(r.base, expand_template(r.template, r.id, r.bandwidth, number, 0))
            try:
                info = analyze_segment(track, probe, self.fetcher.get(probe))
            except (FetchError, MediaError):
                continue
            if abs(info.presentation_start / track.timescale - first_t) <= frame + 1e-6:
                self.sink.add(
                    "dash.start_number",
                    self.mpd_uri,
                    f"Representation {r.id}: startNumber={r.start_number}, but the "
                    f"first timeline entry's media is $Number$={number} "
                    f"({self.fetcher.display(probe)})",
                )
                return True
        return False

    def _check_duration(self, stats: StatsLookup) -> None:
        if self.title.duration is None:
            return
        measured = [
            s for r in self.title.representations if r.init and (s := stats(r.init)) is not None
        ]
        if not measured:
            return
        longest = max(s.duration for s in measured)
        slack = max(s.frame_duration for s in measured) + 0.001
        if abs(self.title.duration - longest) > slack:
            self.sink.add(
                "dash.duration",
                self.mpd_uri,
                f"mediaPresentationDuration {self.title.duration:.3f} s, the longest "
                f"track is {longest:.3f} s",
            )
