"""Per-session manifests: the HLS master and DASH MPD cut down to the renditions a session may
play, HLS key lines cut down to the keys it may have and pointed at its key delivery, and the
rule that maps a request path to the rendition it belongs to.

The playback session signs its grant (`playback.grant`: renditions, KIDs, key delivery) into
the CDN token (`data=`), so the origin gateway filters without a lookup. Filtering the
manifest is the courtesy; the licence proxy releasing only the keys of allowed labels is the
enforcement (a client that ignores the manifest still cannot decrypt what it was not given a
key for), and the gateway also refuses segment requests for renditions outside the list.

Pure functions over text and bytes; no I/O.
"""

from __future__ import annotations

import re

from lxml import etree

from core.xml_safety import parse_xml
from drm.keys import DrmError, parse_kid
from drm.signalling.decode import decode as decode_pssh
from drm.signalling.fairplay import parse_skd_uri
from pipeline.validate.hls import attributes as key_attrs  # the validator's parser, shared
from playback.grant import SessionGrant

MANIFEST_NAMES = frozenset({"master.m3u8", "manifest.mpd"})
SCHEME_SETS = frozenset({"cenc", "cbcs"})  # `--scheme both` writes one folder per set
SHARED_DIRS = frozenset({"subs"})  # sidecar subtitles: every session gets them
_URI_ATTR = re.compile(r'URI="([^"]*)"')
_KEY_TAGS = ("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:")
_URI_TAGS = ("#EXT-X-I-FRAME-STREAM-INF:", "#EXT-X-IMAGE-STREAM-INF:", "#EXT-X-MEDIA:")
_KEYID = re.compile(r"^0[xX]([0-9a-fA-F]{32})$")
_HEX_KID = re.compile(r"^[0-9a-fA-F]{32}$")
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"


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
    """The master playlist without variants, I-frame and image (thumbnail) playlists and
    renditions (EXT-X-MEDIA) outside `allowed`. Everything else (session keys, comments,
    order) is kept verbatim."""
    lines = text.splitlines()
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            j = _uri_line(lines, i)
            if j is not None and not _allowed(lines[j].strip(), allowed):
                drop.update((i, j))
        elif line.startswith(_URI_TAGS):
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


def key_line_kids(attrs: dict[str, str]) -> frozenset[bytes]:
    """The KIDs a key line names: its KEYID, and those its URI carries (the PSSH box or
    PlayReady Object of a `data:` URI, an `skd://` KID, the KID hex ending an identity key
    URL). Empty when it names none or one cannot be read: such a line is never trusted."""
    kids: set[bytes] = set()
    if "KEYID" in attrs:
        m = _KEYID.match(attrs["KEYID"])
        if m is None:
            return frozenset()
        kids.add(bytes.fromhex(m.group(1)))
    uri = attrs.get("URI", "")
    identity = attrs.get("KEYFORMAT", "identity") == "identity"
    try:
        if uri.startswith("data:") and not identity:
            for entry in decode_pssh(uri):
                named = [*entry.get("kids", []), *entry.get("data", {}).get("key_ids", [])]
                kids.update(parse_kid(k) for k in named)
        elif uri.startswith("skd://"):
            kids.add(parse_skd_uri(uri)[1])
        elif identity and not kids:
            tail = uri.split("?", 1)[0].rsplit("/", 1)[-1]
            if _HEX_KID.match(tail):
                kids.add(bytes.fromhex(tail))
    except (DrmError, ValueError, TypeError, AttributeError):
        return frozenset()
    return frozenset(kids)


def _session_key_line(line: str, grant: SessionGrant) -> str | None:
    """The key line as this session may see it, or None to drop it."""
    attrs = key_attrs(line)
    if attrs.get("METHOD") == "NONE":
        return line
    kids = key_line_kids(attrs)
    if not kids or not kids <= grant.kids:
        return None
    if attrs.get("KEYFORMAT", "identity") != "identity":
        return line  # another system's line (Widevine, PlayReady, FairPlay): its KIDs are ours
    if len(kids) != 1 or not _URI_ATTR.search(line):
        return None
    uri = grant.key_uri(next(iter(kids)))
    return _URI_ATTR.sub(lambda _: f'URI="{uri}"', line, count=1)


def filter_hls_keys(text: str, grant: SessionGrant) -> str:
    """A playlist (master or media) with every EXT-X-KEY / EXT-X-SESSION-KEY line naming a KID
    outside the grant dropped, and the "identity" ones (ClearKey key delivery) pointed at the
    session's key route. Lines whose KIDs cannot be read are dropped too; METHOD=NONE and
    every other line are kept verbatim."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(_KEY_TAGS):
            kept = _session_key_line(line, grant)
            if kept is not None:
                out.append(kept)
        else:
            out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


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
