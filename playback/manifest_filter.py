"""Per-session manifests: the HLS master and DASH MPD cut down to the renditions a session may
play, and the rule that maps a request path to the rendition it belongs to.

The playback session signs the allowed rendition ids into the CDN token (`data=`), so the
origin gateway filters without a lookup. Filtering the manifest is the courtesy; the licence
proxy releasing only the keys of allowed labels is the enforcement (a client that ignores the
manifest still cannot decrypt what it was not given a key for), and the gateway also refuses
segment requests for renditions outside the list.

Pure functions over text and bytes; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

from core.xml_safety import parse_xml

MANIFEST_NAMES = frozenset({"master.m3u8", "manifest.mpd"})
SCHEME_SETS = frozenset({"cenc", "cbcs"})  # `--scheme both` writes one folder per set
SHARED_DIRS = frozenset({"subs"})  # sidecar subtitles: every session gets them
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_URI_ATTR = re.compile(r'URI="([^"]*)"')
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"


def encode_renditions(ids: Iterable[str]) -> str:
    """The token `data` payload for a set of rendition ids (comma-joined, sorted)."""
    out = sorted(set(ids))
    bad = [i for i in out if not _ID.match(i)]
    if bad or not out:
        raise ValueError(f"rendition ids must be non-empty and plain: {bad or out}")
    return ",".join(out)


def decode_renditions(data: str) -> frozenset[str]:
    """The rendition ids of a token `data` payload; ValueError if it is not one."""
    ids = frozenset(data.split(","))
    if not ids or not all(_ID.match(i) for i in ids):
        raise ValueError("token data is not a rendition list")
    return ids


def rendition_of(rel_path: str) -> str | None:
    """The rendition a path relative to the title names (`v720p3000/3.m4s`,
    `cbcs/v720p3000.m3u8`, `v720p3000_iframes.m3u8` -> `v720p3000`); None for manifests,
    subtitles and anything else every session may fetch."""
    parts = [p for p in rel_path.split("/") if p]
    while parts and parts[0] in SCHEME_SETS:
        parts = parts[1:]
    if not parts or parts[0] in SHARED_DIRS:
        return None
    head = parts[0]
    if len(parts) == 1:
        if head in MANIFEST_NAMES or not head.endswith(".m3u8"):
            return None
        head = head.removesuffix(".m3u8").removesuffix("_iframes")
    return head


def _allowed(uri: str, allowed: frozenset[str]) -> bool:
    rid = rendition_of(uri.split("?", 1)[0])
    return rid is None or rid in allowed


def filter_hls_master(text: str, allowed: frozenset[str]) -> str:
    """The master playlist without variants, I-frame playlists and renditions (EXT-X-MEDIA)
    outside `allowed`. Everything else (session keys, comments, order) is kept verbatim."""
    lines = text.splitlines()
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            j = _uri_line(lines, i)
            if j is not None and not _allowed(lines[j].strip(), allowed):
                drop.update((i, j))
        elif line.startswith(("#EXT-X-I-FRAME-STREAM-INF:", "#EXT-X-MEDIA:")):
            m = _URI_ATTR.search(line)
            if m and not _allowed(m.group(1), allowed):
                drop.add(i)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return "\n".join(kept) + ("\n" if text.endswith("\n") else "")


def _uri_line(lines: list[str], tag: int) -> int | None:
    """Index of the URI line that an EXT-X-STREAM-INF tag at `tag` applies to."""
    for j in range(tag + 1, len(lines)):
        if lines[j].startswith("#EXT"):
            return None  # malformed: another tag before the URI
        if lines[j].strip() and not lines[j].startswith("#"):
            return j
    return None


def filter_mpd(xml: bytes, allowed: frozenset[str], source: str = "manifest.mpd") -> bytes:
    """The MPD without Representations outside `allowed` (by @id), AdaptationSets left empty
    removed, and each remaining set's maxWidth/maxHeight lowered to what is left."""
    root = parse_xml(xml, source)
    ns = {"m": root.nsmap.get(None, MPD_NS)}
    for aset in root.iterfind(".//m:AdaptationSet", ns):
        reps = aset.findall("m:Representation", ns)
        for rep in reps:
            if rep.get("id") not in allowed:
                aset.remove(rep)
        kept = aset.findall("m:Representation", ns)
        if not kept:
            parent = aset.getparent()
            if parent is not None:
                parent.remove(aset)
            continue
        for attr, rep_attr in (("maxWidth", "width"), ("maxHeight", "height")):
            values = [int(r.get(rep_attr)) for r in kept if (r.get(rep_attr) or "").isdigit()]
            if aset.get(attr) is not None and values:
                aset.set(attr, str(max(values)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
