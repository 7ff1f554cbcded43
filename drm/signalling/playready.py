"""PlayReady Object (PRO) and WRMHEADER: build for packaging, parse for `vod pssh decode`.

PRO, all little-endian: u32 total length, u16 record count, then records of {u16 type
(1 = rights management header), u16 byte length, UTF-16LE XML}. The header's KID is the 16
KID bytes as a little-endian GUID (first three groups byte-swapped), base64; CHECKSUM is the
first 8 bytes of AES-128-ECB(content key, that swapped KID), base64 (as Shaka Packager and
the PlayReady Header specification do). cenc gets WRMHEADER 4.0.0.0 (KID, CHECKSUM,
AESCTR); cbcs needs 4.3.0.0 with <KIDS><KID ALGID="AESCBC" VALUE=...> and no checksum: a
checksum on a 4.3 AESCBC KID broke Edge.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree

from drm.keys import DrmError, kid_uuid

__all__ = [
    "PLAYREADY_HEADER_NS",
    "RIGHTS_MANAGEMENT_HEADER",
    "guid_le",
    "kid_checksum",
    "wrm_header",
    "playready_object",
    "pro_from_records",
    "parse_pro",
    "parse_wrm_header",
    "decode_pro",
    "verify_checksum",
]

PLAYREADY_HEADER_NS = "http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader"
RIGHTS_MANAGEMENT_HEADER = 1
RECORD_TYPES = {1: "rights management header", 2: "reserved", 3: "embedded license store"}

_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def guid_le(kid: bytes) -> bytes:
    """Swap the first three GUID groups (4, 2, 2 bytes): big-endian UUID <-> PlayReady KID.

    The swap is its own inverse, so it also turns a header KID back into the CENC KID.
    """
    if len(kid) != 16:
        raise DrmError("KID must be 16 bytes")
    return kid[3::-1] + kid[5:3:-1] + kid[7:5:-1] + kid[8:]


def kid_checksum(kid: bytes, key: bytes) -> bytes:
    """First 8 bytes of AES-128-ECB(key, little-endian GUID of the KID)."""
    if len(key) != 16:
        raise DrmError("content key must be 16 bytes")
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (enc.update(guid_le(kid)) + enc.finalize())[:8]


def verify_checksum(kid: bytes, key: bytes, checksum_b64: str) -> bool:
    """Whether a header CHECKSUM matches this KID and key (catches a key/KID mix-up)."""
    return base64.b64decode(checksum_b64) == kid_checksum(kid, key)


def wrm_header(
    kid: bytes, scheme: str, *, key: bytes | None = None, la_url: str | None = None
) -> str:
    """The WRMHEADER XML for one KID: 4.0.0.0 for cenc (CHECKSUM when the key is given),
    4.3.0.0 for cbcs (never a checksum)."""
    kid_b64 = base64.b64encode(guid_le(kid)).decode("ascii")
    la = f"<LA_URL>{escape(la_url)}</LA_URL>" if la_url else ""
    head = f'<WRMHEADER xmlns="{PLAYREADY_HEADER_NS}" version='
    if scheme == "cenc":
        checksum = ""
        if key is not None:
            checksum_b64 = base64.b64encode(kid_checksum(kid, key)).decode("ascii")
            checksum = f"<CHECKSUM>{checksum_b64}</CHECKSUM>"
        return (
            f'{head}"4.0.0.0"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID>'
            f"</PROTECTINFO><KID>{kid_b64}</KID>{checksum}{la}</DATA></WRMHEADER>"
        )
    if scheme == "cbcs":
        return (
            f'{head}"4.3.0.0"><DATA><PROTECTINFO><KIDS><KID ALGID="AESCBC" VALUE="{kid_b64}">'
            f"</KID></KIDS></PROTECTINFO>{la}</DATA></WRMHEADER>"
        )
    raise DrmError(f"PlayReady signalling supports cenc and cbcs, not {scheme!r}")


def pro_from_records(records: Sequence[tuple[int, bytes]]) -> bytes:
    """Assemble a PlayReady Object from (type, payload) records."""
    body = bytearray()
    for rtype, payload in records:
        if len(payload) > 0xFFFF:
            raise DrmError("PlayReady record longer than 65535 bytes")
        body += struct.pack("<HH", rtype, len(payload)) + payload
    return struct.pack("<IH", len(body) + 6, len(records)) + bytes(body)


def playready_object(
    kid: bytes, scheme: str, *, key: bytes | None = None, la_url: str | None = None
) -> bytes:
    """The PRO holding one rights management header: PSSH data, and `mspr:pro` once base64'd."""
    xml = wrm_header(kid, scheme, key=key, la_url=la_url)
    return pro_from_records([(RIGHTS_MANAGEMENT_HEADER, xml.encode("utf-16-le"))])


def parse_pro(data: bytes) -> list[tuple[int, bytes]]:
    """(type, payload) records of a PlayReady Object, checking every length."""
    if len(data) < 6:
        raise DrmError("PlayReady Object shorter than its 6-byte header")
    total, count = struct.unpack_from("<IH", data, 0)
    if total != len(data):
        raise DrmError(f"PlayReady Object says {total} bytes but has {len(data)}")
    records, off = [], 6
    for i in range(count):
        if off + 4 > total:
            raise DrmError(f"PlayReady record {i} header runs past the end")
        rtype, size = struct.unpack_from("<HH", data, off)
        off += 4
        if off + size > total:
            raise DrmError(f"PlayReady record {i} ({size} bytes) runs past the end")
        records.append((rtype, bytes(data[off : off + size])))
        off += size
    if off != total:
        raise DrmError(f"PlayReady Object has {total - off} bytes after its {count} records")
    return records


def parse_wrm_header(xml: str | bytes) -> dict[str, Any]:
    """Version, KIDs (CENC UUID form, with ALGID/CHECKSUM), LA_URL, LUI_URL, DS_ID.

    Parsed without entity expansion, DTDs or network access: headers come from untrusted files.
    """
    text = xml.decode("utf-16-le") if isinstance(xml, bytes) else xml
    text = _XML_DECL.sub("", text.lstrip("\ufeff"), count=1)
    try:
        root = etree.fromstring(text.encode("utf-8"), _SAFE_PARSER)
    except etree.XMLSyntaxError as e:
        raise DrmError(f"PlayReady header is not well-formed XML: {e}") from None
    if etree.QName(root).localname != "WRMHEADER":
        raise DrmError(f"PlayReady record holds <{etree.QName(root).localname}>, not WRMHEADER")
    ns = {"p": etree.QName(root).namespace} if etree.QName(root).namespace else {}
    p = "p:" if ns else ""

    def text_of(path: str) -> str | None:
        el = root.find(path, ns)
        return el.text.strip() if el is not None and el.text else None

    kids: list[dict[str, str | None]] = []
    algid = text_of(f"{p}DATA/{p}PROTECTINFO/{p}ALGID")
    if (value := text_of(f"{p}DATA/{p}KID")) is not None:  # 4.0.0.0
        kids.append(_kid_entry(value, algid, text_of(f"{p}DATA/{p}CHECKSUM")))
    for path in (f"{p}DATA/{p}PROTECTINFO/{p}KID", f"{p}DATA/{p}PROTECTINFO/{p}KIDS/{p}KID"):
        for el in root.findall(path, ns):  # 4.1 and 4.2/4.3
            if el.get("VALUE"):
                kids.append(_kid_entry(el.get("VALUE"), el.get("ALGID"), el.get("CHECKSUM")))
    return {
        "version": root.get("version"),
        "kids": kids,
        "la_url": text_of(f"{p}DATA/{p}LA_URL"),
        "lui_url": text_of(f"{p}DATA/{p}LUI_URL"),
        "ds_id": text_of(f"{p}DATA/{p}DS_ID"),
    }


def _kid_entry(value: str | None, algid: str | None, checksum: str | None) -> dict[str, Any]:
    try:
        raw = base64.b64decode(value or "", validate=True)
    except ValueError:
        raise DrmError(f"PlayReady KID {value!r} is not base64") from None
    if len(raw) != 16:
        raise DrmError(f"PlayReady KID {value!r} is not 16 bytes")
    return {"kid": kid_uuid(guid_le(raw)), "value": value, "algid": algid, "checksum": checksum}


def decode_pro(data: bytes) -> dict[str, Any]:
    """A PRO for display: its records, with each rights management header parsed."""
    records: list[dict[str, Any]] = []
    for rtype, payload in parse_pro(data):
        entry: dict[str, Any] = {"type": rtype, "type_name": RECORD_TYPES.get(rtype, "unknown")}
        if rtype == RIGHTS_MANAGEMENT_HEADER:
            try:
                xml = payload.decode("utf-16-le")
            except UnicodeDecodeError:
                raise DrmError("PlayReady header is not UTF-16LE") from None
            entry["header"] = parse_wrm_header(xml)
            entry["xml"] = xml
        else:
            entry["size"] = len(payload)
        records.append(entry)
    return {"records": records}
