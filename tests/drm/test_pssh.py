"""PSSH boxes and the DRM system data inside them: Widevine protobuf, PlayReady Object.

Known answers come from outside our code (tests/support/drm_vectors.py): Shaka Packager's
unit-test vectors, the W3C web-platform-tests EME content, the `protobuf` package as an
independent protobuf codec, `uuid.bytes_le` for the GUID swap and `cryptography` AES-ECB for
the PlayReady checksum.
"""

from __future__ import annotations

import base64
import struct
import uuid

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from lxml import etree

from drm.keys import DrmError
from drm.signalling import clearkey, playready, pssh, systems, widevine
from drm.signalling.playready import PLAYREADY_HEADER_NS
from pipeline.mp4.base import parse_box
from tests.support.drm_vectors import (
    KEY1,
    KID1,
    KID2,
    PR_UUID,
    WPT_KEY,
    WPT_KID,
    WV_UUID,
    expected_checksum,
    hand_pssh,
)

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
    assert ours == hand_pssh(WV_UUID, [KID1, KID2], data, 1)
    box, end = parse_box(ours)
    assert end == len(ours) and box.version == 1
    assert [k["kid"] for k in box.kids] == [KID1, KID2] and box.data == data
    v0 = pssh.pssh_box(systems.PLAYREADY_ID, (), b"xyz")
    assert v0 == hand_pssh(PR_UUID, [], b"xyz", 0)


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
    assert playready.kid_checksum(KID1, KEY1) == expected_checksum(KID1, KEY1)
    # Shaka Packager's expected header text for the same KID and key
    assert base64.b64encode(playready.kid_checksum(KID1, KEY1)) == b"uFY/OirQj/U="
    # a castlabs-made header from the W3C EME tests
    assert base64.b64encode(playready.kid_checksum(WPT_KID, WPT_KEY)) == b"jYFNf0yf4is="
    assert playready.verify_checksum(WPT_KID, WPT_KEY, "jYFNf0yf4is=")
    assert not playready.verify_checksum(WPT_KID, KEY1, "jYFNf0yf4is=")


def _shaka_pr_pssh(xml: str) -> bytes:
    payload = xml.encode("utf-16-le")
    pro = struct.pack("<IHHH", len(payload) + 10, 1, 1, len(payload)) + payload
    return hand_pssh(PR_UUID, [], pro, 0)


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
