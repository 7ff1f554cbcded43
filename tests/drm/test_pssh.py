"""DRM signalling: PSSH boxes, Widevine/PlayReady data, ClearKey, FairPlay, HLS and DASH.

Known answers come from outside our code: Shaka Packager's pssh_generator_unittest.cc
vectors (KID "keyid1~~~~~~~~~~", key "contentkey1~~~~~"), the W3C web-platform-tests EME
content (a castlabs-made Widevine + PlayReady initData with its KID and key), the
`protobuf` package as an independent protobuf codec, `uuid.bytes_le` for the GUID swap and
`cryptography` AES-ECB for the PlayReady checksum.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from pathlib import Path

import m3u8
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from lxml import etree

from drm.keys import DrmError
from drm.signalling import clearkey, fairplay, playready, pssh, systems, widevine
from drm.signalling.playready import PLAYREADY_HEADER_NS
from pipeline.manifest.dash import NS_CENC, NS_DASHIF, NS_MPD, NS_MSPR, NSMAP
from pipeline.mp4.base import parse_box

KID1 = b"keyid1~~~~~~~~~~"
KID2 = b"keyid2~~~~~~~~~~"
KEY1 = b"contentkey1~~~~~"
WV_UUID = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
PR_UUID = "9a04f079-9840-4286-ab92-e65be0885f95"
COMMON_UUID = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"

# W3C web-platform-tests, encrypted-media/content/content-metadata.js, 'mp4-basic'.
WPT_KID = bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64")
WPT_KEY = bytes.fromhex("be7df8a3667a6a8fd564d0ed81339a95")
WPT_INIT_DATA = (
    "AAAAcXBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAFEIARIQrRP56ivmmLh19QSo48zqZBoIY2FzdGxhYnMiKGV5"
    "SmhjM05sZEVsa0lqb2laVzFsTFhSbGMzUXRjMmx1WjJ4bEluMD0yB2RlZmF1bHQAAAMacHNzaAAAAACaBPB5mEBC"
    "hquS5lvgiF+VAAAC+voCAAABAAEA8AI8AFcAUgBNAEgARQBBAEQARQBSACAAeABtAGwAbgBzAD0AIgBoAHQAdABw"
    "ADoALwAvAHMAYwBoAGUAbQBhAHMALgBtAGkAYwByAG8AcwBvAGYAdAAuAGMAbwBtAC8ARABSAE0ALwAyADAAMAA3"
    "AC8AMAAzAC8AUABsAGEAeQBSAGUAYQBkAHkASABlAGEAZABlAHIAIgAgAHYAZQByAHMAaQBvAG4APQAiADQALgAw"
    "AC4AMAAuADAAIgA+ADwARABBAFQAQQA+ADwAUABSAE8AVABFAEMAVABJAE4ARgBPAD4APABLAEUAWQBMAEUATgA+"
    "ADEANgA8AC8ASwBFAFkATABFAE4APgA8AEEATABHAEkARAA+AEEARQBTAEMAVABSADwALwBBAEwARwBJAEQAPgA8"
    "AC8AUABSAE8AVABFAEMAVABJAE4ARgBPAD4APABLAEkARAA+ADYAdgBrAFQAcgBlAFkAcgB1AEoAaAAxADkAUQBT"
    "AG8ANAA4AHoAcQBaAEEAPQA9ADwALwBLAEkARAA+ADwAQwBIAEUAQwBLAFMAVQBNAD4AagBZAEYATgBmADAAeQBm"
    "ADQAaQBzAD0APAAvAEMASABFAEMASwBTAFUATQA+ADwATABBAF8AVQBSAEwAPgBoAHQAdABwADoALwAvAHAAbABh"
    "AHkAcgBlAGEAZAB5AC4AZABpAHIAZQBjAHQAdABhAHAAcwAuAG4AZQB0AC8AcAByAC8AcwB2AGMALwByAGkAZwBo"
    "AHQAcwBtAGEAbgBhAGcAZQByAC4AYQBzAG0AeAA/AFAAbABhAHkAUgBpAGcAaAB0AD0AMQAmAGEAbQBwADsAVQBz"
    "AGUAUwBpAG0AcABsAGUATgBvAG4AUABlAHIAcwBpAHMAdABlAG4AdABMAGkAYwBlAG4AcwBlAD0AMQA8AC8ATABB"
    "AF8AVQBSAEwAPgA8AC8ARABBAFQAQQA+ADwALwBXAFIATQBIAEUAQQBEAEUAUgA+AA=="
)


def _expected_checksum(kid: bytes, key: bytes) -> bytes:
    """Independent: uuid's little-endian GUID bytes, AES-128-ECB from `cryptography`."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (enc.update(uuid.UUID(bytes=kid).bytes_le) + enc.finalize())[:8]


def _hand_pssh(system: str, kids: list[bytes], data: bytes, version: int) -> bytes:
    """A pssh box assembled with struct, not with the box model."""
    body = bytes([version]) + b"\0\0\0" + uuid.UUID(system).bytes
    if version:
        body += struct.pack(">I", len(kids)) + b"".join(kids)
    body += struct.pack(">I", len(data)) + data
    return struct.pack(">I4s", 8 + len(body), b"pssh") + body


# --- system IDs -----------------------------------------------------------------------------


def test_system_ids_match_the_registry():
    ids = {
        "edef8ba979d64acea3c827dcd51d21ed": systems.WIDEVINE_ID,
        "9a04f07998404286ab92e65be0885f95": systems.PLAYREADY_ID,
        "1077efecc0b24d02ace33c1e52e2fb4b": systems.COMMON_ID,
        "94ce86fb07ff4f43adb893d2fa968ca2": systems.FAIRPLAY_ID,
        "e2719d58a985b3c9781ab030af78d30e": systems.CLEARKEY_DASH_ID,
    }
    for hex_id, ours in ids.items():
        assert ours.hex() == hex_id
    assert systems.urn(systems.WIDEVINE_UUID) == f"urn:uuid:{WV_UUID}"
    assert systems.system_name(systems.PLAYREADY_ID) == "PlayReady"
    assert systems.system_name(bytes(16)) == "00000000-0000-0000-0000-000000000000"


# --- pssh box -------------------------------------------------------------------------------


def test_pssh_box_matches_hand_assembly_and_round_trips():
    data = b"\x01\x02payload"
    ours = pssh.pssh_box(systems.WIDEVINE_ID, [KID1, KID2], data, 1)
    assert ours == _hand_pssh(WV_UUID, [KID1, KID2], data, 1)
    box, end = parse_box(ours)
    assert end == len(ours) and box.version == 1
    assert [k["kid"] for k in box.kids] == [KID1, KID2] and box.data == data
    v0 = pssh.pssh_box(systems.PLAYREADY_ID, (), b"xyz")
    assert v0 == _hand_pssh(PR_UUID, [], b"xyz", 0)


def test_pssh_box_rejects_inconsistent_input():
    with pytest.raises(DrmError, match="version 0"):
        pssh.pssh_box(systems.WIDEVINE_ID, [KID1], b"", 0)
    with pytest.raises(DrmError, match="16 bytes"):
        pssh.pssh_box(systems.WIDEVINE_ID, [b"short"], b"", 1)
    with pytest.raises(DrmError, match="version 2"):
        pssh.pssh_box(systems.WIDEVINE_ID, [], b"", 2)


def test_common_pssh_matches_shaka_vector():
    expected = bytes.fromhex("000000447073736801000000") + systems.COMMON_ID
    expected += b"\0\0\0\x02" + KID1 + KID2 + b"\0\0\0\0"
    assert pssh.common_pssh([KID1, KID2]) == expected
    assert clearkey.common_pssh([KID1, KID2]) == expected


# --- Widevine -------------------------------------------------------------------------------


def _protobuf_class():
    """WidevinePsshData described to the real protobuf runtime, as the independent codec."""
    fdp = descriptor_pb2.FileDescriptorProto(name="wv_test.proto", package="wvtest")
    fdp.syntax = "proto2"
    msg = fdp.message_type.add(name="WidevinePsshData")
    enum = msg.enum_type.add(name="Algorithm")
    enum.value.add(name="UNENCRYPTED", number=0)
    enum.value.add(name="AESCTR", number=1)
    f = descriptor_pb2.FieldDescriptorProto
    opt, rep = f.LABEL_OPTIONAL, f.LABEL_REPEATED
    msg.field.add(
        name="algorithm",
        number=1,
        label=opt,
        type=f.TYPE_ENUM,
        type_name=".wvtest.WidevinePsshData.Algorithm",
    )
    msg.field.add(name="key_id", number=2, label=rep, type=f.TYPE_BYTES)
    msg.field.add(name="provider", number=3, label=opt, type=f.TYPE_STRING)
    msg.field.add(name="content_id", number=4, label=opt, type=f.TYPE_BYTES)
    msg.field.add(name="track_type", number=5, label=opt, type=f.TYPE_STRING)
    msg.field.add(name="policy", number=6, label=opt, type=f.TYPE_STRING)
    msg.field.add(name="crypto_period_index", number=7, label=opt, type=f.TYPE_UINT32)
    msg.field.add(name="protection_scheme", number=9, label=opt, type=f.TYPE_UINT32)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("wvtest.WidevinePsshData"))


def test_widevine_encoding_read_by_protobuf():
    ours = widevine.WidevinePsshData(
        key_ids=[KID1, KID2],
        provider="vod-pipeline",
        content_id=b"\x00title-42\xff",
        policy="hd",
        crypto_period_index=300,
        protection_scheme="cbcs",
        algorithm=1,
    ).to_bytes()
    msg = _protobuf_class()()
    msg.ParseFromString(ours)
    assert list(msg.key_id) == [KID1, KID2]
    assert msg.provider == "vod-pipeline" and msg.content_id == b"\x00title-42\xff"
    assert msg.policy == "hd" and msg.crypto_period_index == 300
    assert msg.protection_scheme == 0x63626373  # 'cbcs'
    assert msg.algorithm == 1
    # protobuf writes fields in number order too: same bytes back
    assert msg.SerializeToString() == ours


def test_widevine_decoder_reads_protobuf_output():
    cls = _protobuf_class()
    msg = cls(
        key_id=[KID2],
        provider="castlabs",
        content_id=b"abc",
        track_type="SD",  # a field we do not model: kept as unknown
        protection_scheme=0x63656E63,
        crypto_period_index=2**32 - 1,
    )
    decoded = widevine.WidevinePsshData.parse(msg.SerializeToString())
    assert decoded.key_ids == [KID2] and decoded.provider == "castlabs"
    assert decoded.content_id == b"abc" and decoded.protection_scheme == "cenc"
    assert decoded.crypto_period_index == 2**32 - 1 and decoded.algorithm is None
    assert decoded.unknown == [(5, 2, b"SD")]
    assert decoded.to_bytes() != b""  # re-encodable with its unknown field


def test_widevine_pssh_matches_shaka_vectors():
    # Shaka's unit-test vector for cbcs; its 3.4 binary also writes 'cenc' (0x63656e63)
    header = bytes.fromhex("7073736800000000") + systems.WIDEVINE_ID
    cbcs = bytes.fromhex("0000004a") + header + bytes.fromhex("0000002a")
    cbcs += b"\x12\x10" + KID1 + b"\x12\x10" + KID2 + bytes.fromhex("48f3c6899b06")
    assert pssh.widevine_pssh([KID1, KID2], "cbcs") == cbcs
    cenc = cbcs.replace(bytes.fromhex("48f3c6899b06"), bytes.fromhex("48e3dc959b06"))
    assert pssh.widevine_pssh([KID1, KID2], "cenc") == cenc


def test_widevine_decoder_rejects_garbage():
    with pytest.raises(DrmError, match="runs past the end"):
        widevine.WidevinePsshData.parse(b"\x12\x10abc")
    with pytest.raises(DrmError, match="truncated varint"):
        widevine.WidevinePsshData.parse(b"\x08\xff")  # 16 bytes announced, 3 present
    with pytest.raises(DrmError, match="wire type"):
        widevine.WidevinePsshData.parse(b"\x10\x01")  # key_id as a varint


# --- PlayReady ------------------------------------------------------------------------------


def test_guid_swap_and_checksum_known_answers():
    assert playready.guid_le(KID1) == uuid.UUID(bytes=KID1).bytes_le
    assert playready.guid_le(playready.guid_le(WPT_KID)) == WPT_KID
    assert playready.kid_checksum(KID1, KEY1) == _expected_checksum(KID1, KEY1)
    # Shaka Packager's expected header text for the same KID and key
    assert base64.b64encode(playready.kid_checksum(KID1, KEY1)) == b"uFY/OirQj/U="
    # a castlabs-made header from the W3C EME tests
    assert base64.b64encode(playready.kid_checksum(WPT_KID, WPT_KEY)) == b"jYFNf0yf4is="
    assert playready.verify_checksum(WPT_KID, WPT_KEY, "jYFNf0yf4is=")
    assert not playready.verify_checksum(WPT_KID, KEY1, "jYFNf0yf4is=")


def _shaka_pr_pssh(xml: str) -> bytes:
    payload = xml.encode("utf-16-le")
    pro = struct.pack("<IHHH", len(payload) + 10, 1, 1, len(payload)) + payload
    return _hand_pssh(PR_UUID, [], pro, 0)


def test_playready_pssh_matches_shaka_vectors():
    kid_b64 = base64.b64encode(uuid.UUID(bytes=KID1).bytes_le).decode()
    assert kid_b64 == "aXllazFkfn5+fn5+fn5+fg=="
    cenc_xml = (
        f'<WRMHEADER xmlns="{PLAYREADY_HEADER_NS}" version="4.0.0.0"><DATA><PROTECTINFO>'
        "<KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO>"
        f"<KID>{kid_b64}</KID><CHECKSUM>uFY/OirQj/U=</CHECKSUM></DATA></WRMHEADER>"
    )
    ours = pssh.playready_pssh(KID1, "cenc", key=KEY1)
    assert ours == _shaka_pr_pssh(cenc_xml) and len(ours) == 0x226
    cbcs_xml = (
        f'<WRMHEADER xmlns="{PLAYREADY_HEADER_NS}" version="4.3.0.0"><DATA><PROTECTINFO><KIDS>'
        f'<KID ALGID="AESCBC" VALUE="{kid_b64}"></KID></KIDS></PROTECTINFO></DATA></WRMHEADER>'
    )
    ours = pssh.playready_pssh(KID1, "cbcs", key=KEY1)
    assert ours == _shaka_pr_pssh(cbcs_xml) and len(ours) == 0x1DE


def _lxml_header(pro: bytes) -> etree._Element:
    total, count, rtype, size = struct.unpack_from("<IHHH", pro)
    assert (total, count, rtype, size) == (len(pro), 1, 1, len(pro) - 10)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(pro[10:].decode("utf-16-le").encode(), parser)


def test_playready_cenc_header_parsed_independently():
    url = "https://lic.example.com/pr?a=1&b=<2>"
    pro = playready.playready_object(WPT_KID, "cenc", key=WPT_KEY, la_url=url)
    root = _lxml_header(pro)
    ns = {"p": PLAYREADY_HEADER_NS}
    assert root.get("version") == "4.0.0.0"
    assert root.findtext("p:DATA/p:PROTECTINFO/p:ALGID", namespaces=ns) == "AESCTR"
    assert root.findtext("p:DATA/p:PROTECTINFO/p:KEYLEN", namespaces=ns) == "16"
    kid = base64.b64decode(root.findtext("p:DATA/p:KID", namespaces=ns))
    assert kid == uuid.UUID(bytes=WPT_KID).bytes_le
    assert root.findtext("p:DATA/p:CHECKSUM", namespaces=ns) == "jYFNf0yf4is="
    assert root.findtext("p:DATA/p:LA_URL", namespaces=ns) == url
    parsed = playready.parse_wrm_header(pro[10:].decode("utf-16-le"))
    assert parsed["version"] == "4.0.0.0" and parsed["la_url"] == url
    assert parsed["kids"][0]["kid"] == str(uuid.UUID(bytes=WPT_KID))
    assert parsed["kids"][0]["checksum"] == "jYFNf0yf4is="


def test_playready_cbcs_header_is_43_without_checksum():
    pro = playready.playready_object(KID2, "cbcs", key=KEY1, la_url="https://l.example/x")
    root = _lxml_header(pro)
    ns = {"p": PLAYREADY_HEADER_NS}
    assert root.get("version") == "4.3.0.0"
    (kid_el,) = root.findall("p:DATA/p:PROTECTINFO/p:KIDS/p:KID", ns)
    assert kid_el.get("ALGID") == "AESCBC" and kid_el.get("CHECKSUM") is None
    assert base64.b64decode(kid_el.get("VALUE")) == uuid.UUID(bytes=KID2).bytes_le
    assert root.find(".//p:CHECKSUM", ns) is None
    assert root.findtext("p:DATA/p:LA_URL", namespaces=ns) == "https://l.example/x"
    assert "CHECKSUM" not in pro.decode("utf-16-le", errors="ignore")


def test_playready_parser_refuses_entities_and_bad_lengths():
    evil = (
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<WRMHEADER xmlns="{PLAYREADY_HEADER_NS}" version="4.0.0.0"><DATA>'
        "<LA_URL>&e;</LA_URL></DATA></WRMHEADER>"
    )
    parsed = playready.parse_wrm_header(evil)
    assert "root:" not in (parsed["la_url"] or "")
    pro = playready.playready_object(KID1, "cenc")
    with pytest.raises(DrmError, match="says"):
        playready.parse_pro(pro + b"\0")
    with pytest.raises(DrmError, match="runs past"):
        playready.parse_pro(struct.pack("<IHHH", 10, 1, 1, 50))
    with pytest.raises(DrmError, match="cenc and cbcs"):
        playready.wrm_header(KID1, "cens")


# --- decode ---------------------------------------------------------------------------------


def test_decode_real_world_widevine_and_playready():
    entries = pssh.decode(WPT_INIT_DATA)
    assert [e["system"] for e in entries] == ["Widevine", "PlayReady"]
    wv, pr = entries
    kid = str(uuid.UUID(bytes=WPT_KID))
    assert wv["version"] == 0 and wv["system_id"] == WV_UUID
    assert wv["data"]["key_ids"] == [kid] and wv["data"]["provider"] == "castlabs"
    assert wv["data"]["algorithm"] == "AESCTR" and wv["data"]["policy"] == "default"
    content = base64.b64decode(wv["data"]["content_id_text"])
    assert json.loads(content) == {"assetId": "eme-test-single"}
    assert pr["kids"] == [kid] and pr["data"]["version"] == "4.0.0.0"
    assert pr["data"]["kids"][0]["checksum"] == "jYFNf0yf4is="
    assert pr["data"]["la_url"].startswith("http://playready.directtaps.net/pr/svc/")
    assert "&UseSimpleNonPersistentLicense=1" in pr["data"]["la_url"]  # &amp; unescaped
    text = pssh.format_decoded(entries)
    assert "provider: castlabs" in text and "CHECKSUM jYFNf0yf4is=" in text
    assert "LA_URL: http://playready.directtaps.net" in text


def test_decode_our_boxes_in_every_input_form(tmp_path: Path):
    boxes = pssh.system_pssh_boxes(
        ["widevine", "playready", "clearkey"], "cbcs", KID1, la_url="https://l.example"
    )
    blob = b"".join(boxes.values())
    b64 = base64.b64encode(blob).decode()
    expected = ["Widevine", "PlayReady", "W3C Common"]
    for form in (blob, b64, base64.urlsafe_b64encode(blob).decode().rstrip("="), blob.hex()):
        entries = pssh.decode(form)
        assert [e["system"] for e in entries] == expected
    wv, pr, common = pssh.decode(b64)
    kid = str(uuid.UUID(bytes=KID1))
    assert wv["data"]["key_ids"] == [kid] and wv["data"]["protection_scheme"] == "cbcs"
    assert pr["data"]["version"] == "4.3.0.0" and pr["data"]["la_url"] == "https://l.example"
    assert pr["kids"] == [kid]
    assert common["version"] == 1 and common["kids"] == [kid] and common["data"] == {}
    # a file holding base64 text, and a binary file
    (tmp_path / "p.txt").write_text(b64 + "\n")
    (tmp_path / "p.bin").write_bytes(blob)
    for name in ("p.txt", "p.bin"):
        text = pssh.pssh_decode_command(str(tmp_path / name))
        assert "[3] W3C Common" in text and f"KID: {kid}" in text
    assert pssh.pssh_decode_command(b64) == pssh.pssh_decode_command(str(tmp_path / "p.bin"))


def test_decode_hand_assembled_and_unknown_systems():
    fairplay_box = _hand_pssh(systems.FAIRPLAY_UUID, [KID2], b"", 1)
    other = _hand_pssh("01020304-0506-0708-090a-0b0c0d0e0f10", [], b"\xde\xad", 0)
    common = _hand_pssh(COMMON_UUID, [KID1, KID2], b"", 1)
    entries = pssh.decode(fairplay_box + other + common)
    assert entries[0]["system"] == "FairPlay"
    assert entries[0]["kids"] == [str(uuid.UUID(bytes=KID2))]
    assert entries[1]["system"] == "01020304-0506-0708-090a-0b0c0d0e0f10"
    assert entries[1]["data"] == {"raw_hex": "dead"}
    assert entries[2]["kids"] == [str(uuid.UUID(bytes=k)) for k in (KID1, KID2)]


def test_decode_mspr_pro_and_data_uri():
    pro = playready.playready_object(KID1, "cenc", key=KEY1, la_url="https://pr.example/")
    (entry,) = pssh.decode(base64.b64encode(pro).decode())
    assert entry["system"] == "PlayReady" and entry["version"] is None
    assert entry["data"]["kids"][0]["checksum"] == "uFY/OirQj/U="
    assert "(PlayReady Object)" in pssh.format_decoded([entry])
    (line,) = pssh.hls_key_lines("playready", "cenc", KID1, key=KEY1)
    uri = line.split('URI="')[1].split('"')[0]
    assert pssh.decode(uri)[0]["data"]["kids"] == entry["data"]["kids"]


def test_decode_finds_pssh_inside_an_init_segment():
    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(body), kind) + body

    wv = _hand_pssh(WV_UUID, [], b"\x12\x10" + KID1, 0)
    ftyp = box(b"ftyp", b"iso6\0\0\0\0iso6cmfc")
    moov = box(b"moov", box(b"mvhd", bytes(100)) + wv)
    init = ftyp + moov + box(b"mdat", b"\0" * 64)
    (entry,) = pssh.decode(init)
    assert entry["system"] == "Widevine"
    assert entry["data"]["key_ids"] == [str(uuid.UUID(bytes=KID1))]
    with pytest.raises(DrmError, match="no pssh"):
        pssh.decode(ftyp)


def test_decode_reports_bad_input_clearly():
    with pytest.raises(DrmError, match="neither base64 nor hex"):
        pssh.decode("not base64 at all!")
    with pytest.raises(DrmError, match="not a pssh box"):
        pssh.decode(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08")
    with pytest.raises(DrmError, match="malformed"):
        pssh.decode(_hand_pssh(WV_UUID, [], b"abcd", 0)[:-2])
    with pytest.raises(DrmError, match="empty"):
        pssh.decode("   ")
    # a corrupt Widevine payload is reported on its box, the other boxes still decode
    bad = _hand_pssh(WV_UUID, [], b"\x12\x50abc", 0) + pssh.common_pssh([KID1])
    entries = pssh.decode(bad)
    assert "error" in entries[0] and entries[1]["system"] == "W3C Common"
    assert "could not be decoded" in pssh.format_decoded(entries)


# --- ClearKey -------------------------------------------------------------------------------


def test_clearkey_licence_answers_only_requested_kids():
    keys = {KID1: KEY1, KID2: bytes(range(16))}
    request = json.dumps({"kids": [clearkey.b64url(KID1)], "type": "temporary"}).encode()
    resp = clearkey.license_response(request, keys)
    assert resp == {
        "keys": [
            {
                "kty": "oct",
                "kid": base64.urlsafe_b64encode(KID1).decode().rstrip("="),
                "k": base64.urlsafe_b64encode(KEY1).decode().rstrip("="),
            }
        ],
        "type": "temporary",
    }
    assert "=" not in json.dumps(resp)
    unknown = clearkey.license_request([bytes(16), KID2])
    assert [k["kid"] for k in clearkey.license_response(unknown, keys)["keys"]] == [
        clearkey.b64url(KID2)
    ]
    padded = json.dumps({"kids": [base64.urlsafe_b64encode(KID1).decode()]})  # no type
    assert len(clearkey.license_response(padded, keys)["keys"]) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{", "not JSON"),
        (b"[1]", "JSON object"),
        (b"{}", "non-empty"),
        (b'{"kids": []}', "non-empty"),
        (b'{"kids": [5]}', "base64url string"),
        (b'{"kids": ["a+b/"]}', "not base64url"),
        (b'{"kids": ["AAAA"]}', "3 bytes"),
        (b'{"kids": ["AAAAAAAAAAAAAAAAAAAAAA"], "type": "persistent-license"}', "temporary"),
    ],
)
def test_clearkey_malformed_requests(body: bytes, message: str):
    with pytest.raises(clearkey.ClearKeyRequestError, match=message) as err:
        clearkey.license_response(body, {KID1: KEY1})
    assert isinstance(err.value, ValueError)  # HTTP handlers answer 400 on ValueError


# --- FairPlay -------------------------------------------------------------------------------


def test_skd_uri_round_trip():
    assert fairplay.skd_uri(KID1) == f"skd://{KID1.hex()}"
    assert fairplay.parse_skd_uri(fairplay.skd_uri(KID1)) == (None, KID1)
    uri = fairplay.skd_uri(KID2, "keys.example.com")
    assert uri == f"skd://keys.example.com/{KID2.hex()}"
    assert fairplay.parse_skd_uri(uri) == ("keys.example.com", KID2)
    assert fairplay.parse_skd_uri(f"skd://h/a/{uuid.UUID(bytes=KID1)}") == ("h/a", KID1)
    with pytest.raises(DrmError, match="skd://"):
        fairplay.parse_skd_uri("https://x/" + KID1.hex())


def test_fairplay_key_line_parses_with_m3u8():
    line = fairplay.ext_x_key_line("skd://kid1")
    assert line == (
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://kid1",'
        'KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"'
    )


# --- HLS ------------------------------------------------------------------------------------


def _playlist(lines: list[str]) -> m3u8.M3U8:
    text = "\n".join(
        ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:6", *lines]
        + ['#EXT-X-MAP:URI="init.mp4"', "#EXTINF:6.0,", "1.m4s", "#EXT-X-ENDLIST", ""]
    )
    return m3u8.loads(text)


def test_hls_key_lines_cbcs_all_systems():
    lines = pssh.hls_key_lines(
        ["widevine", "playready", "fairplay"], "cbcs", KID1, key=KEY1, la_url="https://l/x"
    )
    keys = {k.keyformat: k for k in _playlist(lines).keys}
    assert {k.method for k in keys.values()} == {"SAMPLE-AES"}
    wv = keys[f"urn:uuid:{WV_UUID}"]
    assert wv.keyformatversions == "1"
    assert wv.uri.startswith("data:text/plain;base64,")
    box = base64.b64decode(wv.uri.split(",", 1)[1])
    assert box == pssh.widevine_pssh([KID1], "cbcs")
    assert f"KEYID=0x{KID1.hex().upper()}" in lines[0]
    pr = keys["com.microsoft.playready"]
    assert pr.uri.startswith("data:text/plain;charset=UTF-16;base64,")
    pro = base64.b64decode(pr.uri.split(",", 1)[1])
    assert pro == playready.playready_object(KID1, "cbcs", la_url="https://l/x")
    fp = keys["com.apple.streamingkeydelivery"]
    assert fp.uri == f"skd://{KID1.hex()}" and fp.keyformatversions == "1"


def test_hls_key_lines_cenc_and_session_copies():
    lines = pssh.hls_key_lines(["widevine", "clearkey"], "cenc", KID2)
    assert all(",METHOD=" not in ln and ":METHOD=SAMPLE-AES-CTR," in ln for ln in lines)
    ck = lines[1]
    # HLS ClearKey = KEYFORMAT "identity" with a key-delivery URI per KID, never the key.
    assert 'KEYFORMAT="identity"' in ck
    assert f'URI="/license/clearkey/{KID2.hex()}"' in ck
    with_url = pssh.hls_key_lines("clearkey", "cenc", KID2, la_url="https://o/lic/")
    assert f'URI="https://o/lic/{KID2.hex()}"' in with_url[0]
    session = pssh.session_key_lines(["widevine", "clearkey"], "cenc", KID2)
    assert session == [ln.replace("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:") for ln in lines]
    master = m3u8.loads("#EXTM3U\n" + "\n".join(session) + "\n")
    assert len(master.session_keys) == 2
    with pytest.raises(DrmError, match="cbcs"):
        pssh.hls_key_lines("fairplay", "cenc", KID1)
    with pytest.raises(DrmError, match="unknown DRM system"):
        pssh.hls_key_lines("marlin", "cenc", KID1)
    with pytest.raises(DrmError, match="cenc or cbcs"):
        pssh.hls_key_lines("widevine", "cens", KID1)


# --- DASH -----------------------------------------------------------------------------------


def _in_mpd(elements: list[etree._Element]) -> tuple[str, etree._Element]:
    root = etree.Element(f"{{{NS_MPD}}}MPD", nsmap=NSMAP)
    aset = etree.SubElement(root, f"{{{NS_MPD}}}AdaptationSet")
    aset.extend(elements)
    etree.cleanup_namespaces(root, top_nsmap=NSMAP, keep_ns_prefixes=["cenc", "mspr", "dashif"])
    text = etree.tostring(root, encoding="unicode")
    return text, etree.fromstring(text.encode())


def test_dash_content_protection_elements():
    els = pssh.dash_content_protection(
        "cenc",
        KID1,
        ["widevine", "playready", "clearkey"],
        keys={KID1: KEY1},
        la_url={"playready": "https://pr/x", "clearkey": "https://ck/lic"},
    )
    text, root = _in_mpd(els)
    cps = root.findall(f"{{{NS_MPD}}}AdaptationSet/{{{NS_MPD}}}ContentProtection")
    schemes = [cp.get("schemeIdUri") for cp in cps]
    assert schemes == [
        "urn:mpeg:dash:mp4protection:2011",
        f"urn:uuid:{WV_UUID}",
        f"urn:uuid:{PR_UUID}",
        "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e",
        f"urn:uuid:{COMMON_UUID}",
    ]
    assert cps[0].get("value") == "cenc"
    assert cps[0].get(f"{{{NS_CENC}}}default_KID") == str(uuid.UUID(bytes=KID1))
    wv_box = base64.b64decode(cps[1].findtext(f"{{{NS_CENC}}}pssh"))
    assert wv_box == pssh.widevine_pssh([KID1], "cenc")
    pr_box = base64.b64decode(cps[2].findtext(f"{{{NS_CENC}}}pssh"))
    pro = base64.b64decode(cps[2].findtext(f"{{{NS_MSPR}}}pro"))
    assert parse_box(pr_box)[0].data == pro
    assert (
        pssh.decode(pro)[0]["data"]["kids"][0]["checksum"]
        == base64.b64encode(_expected_checksum(KID1, KEY1)).decode()
    )
    assert cps[3].get("value") == "ClearKey1.0"
    assert cps[3].findtext(f"{{{NS_DASHIF}}}laurl") == "https://ck/lic"
    common = base64.b64decode(cps[4].findtext(f"{{{NS_CENC}}}pssh"))
    assert common == _hand_pssh(COMMON_UUID, [KID1], b"", 1)
    # prefixes declared once on the root, as the MPD writer does
    assert text.count("xmlns:cenc=") == 1 and text.count("xmlns:mspr=") == 1
    assert "<cenc:pssh>" in text and "<mspr:pro>" in text and "<dashif:laurl>" in text


def test_dash_cbcs_and_errors():
    els = pssh.dash_content_protection("cbcs", KID2, ["playready"])
    assert els[0].get("value") == "cbcs"
    pro = base64.b64decode(els[1].findtext(f"{{{NS_MSPR}}}pro"))
    assert pssh.decode(pro)[0]["data"]["version"] == "4.3.0.0"
    with pytest.raises(DrmError, match="HLS only"):
        pssh.dash_content_protection("cbcs", KID2, ["fairplay"])


# --- Shaka Packager as a peer ---------------------------------------------------------------

PACKAGER = Path(__file__).resolve().parents[2] / (
    "web/node_modules/shaka-packager/bin/packager-linux-x64"
)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["cenc", "cbcs"])
def test_same_signalling_as_shaka_packager(tmp_path: Path, scheme: str):
    """Shaka Packager 3.4 packages a short AAC track with the same key: its MPD pssh boxes,
    mspr:pro and init-segment pssh boxes must equal ours byte for byte."""
    import shutil
    import subprocess

    if not PACKAGER.is_file() or shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg and the shaka-packager npm package (scripts/setup.sh)")
    kid, key = bytes.fromhex("00112233445566778899aabbccddeeff"), bytes(range(16))
    src = tmp_path / "a.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", src],
        check=True,
    )
    subprocess.run(
        [
            PACKAGER,
            f"in={src},stream=audio,output={tmp_path / 'enc.mp4'},drm_label=AUDIO",
            "--enable_raw_key_encryption",
            f"--keys=label=AUDIO:key_id={kid.hex()}:key={key.hex()}",
            "--protection_systems=Widevine,PlayReady,CommonSystem",
            f"--protection_scheme={scheme}",
            f"--mpd_output={tmp_path / 'm.mpd'}",
        ],
        check=True,
        capture_output=True,
    )
    root = etree.parse(str(tmp_path / "m.mpd")).getroot()
    theirs = {cp.get("schemeIdUri"): cp for cp in root.iter(f"{{{NS_MPD}}}ContentProtection")}
    ours = {
        cp.get("schemeIdUri"): cp
        for cp in pssh.dash_content_protection(
            scheme, kid, ["widevine", "playready", "clearkey"], keys={kid: key}
        )
    }
    mp4p = "urn:mpeg:dash:mp4protection:2011"
    assert theirs[mp4p].get("value") == ours[mp4p].get("value") == scheme
    default_kid = f"{{{NS_CENC}}}default_KID"
    assert theirs[mp4p].get(default_kid) == ours[mp4p].get(default_kid)
    for system in (WV_UUID, PR_UUID, COMMON_UUID):
        urn = f"urn:uuid:{system}"
        their_box = base64.b64decode(theirs[urn].findtext(f"{{{NS_CENC}}}pssh"))
        assert base64.b64decode(ours[urn].findtext(f"{{{NS_CENC}}}pssh")) == their_box, system
    pr = f"urn:uuid:{PR_UUID}"
    assert ours[pr].findtext(f"{{{NS_MSPR}}}pro") == theirs[pr].findtext(f"{{{NS_MSPR}}}pro")
    assert ours[pr].get("value") == theirs[pr].get("value")
    # the pssh boxes in their init segment decode to what we would write
    in_file = pssh.decode((tmp_path / "enc.mp4").read_bytes())
    boxes = pssh.system_pssh_boxes(["widevine", "playready", "clearkey"], scheme, kid, key=key)
    assert {e["system"] for e in in_file} == {"Widevine", "PlayReady", "W3C Common"}
    assert sorted(map(repr, in_file)) == sorted(map(repr, pssh.decode(b"".join(boxes.values()))))
