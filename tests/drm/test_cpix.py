"""CPIX 2.3 key exchange: requests validate against the DASH-IF XSD, responses parse to the
right key bytes, and hostile or malformed documents are refused without touching files or
the network."""

from __future__ import annotations

import base64
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from lxml import etree

from core.xml_safety import XmlSafetyError, parse_xml
from drm.keyexchange import cpix
from drm.keyexchange.cpix import (
    CpixError,
    build_request,
    build_response,
    parse_request,
    parse_response,
)
from drm.keys import ContentKey

SHARED_XSD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "schemas" / "cpix"
NS = {"cpix": "urn:dashif:org:cpix", "pskc": "urn:ietf:params:xml:ns:keyprov:pskc"}
WIDEVINE = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
PLAYREADY = "9a04f079-9840-4286-ab92-e65be0885f95"
FAIRPLAY = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"
COMMON = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"

KIDS = {
    "AUDIO": bytes.fromhex("1fc17c8c2a444c59a5ad3aa35f1ed0a3"),
    "SD": bytes.fromhex("2a6f3e0b7c4d4e2f9a1b2c3d4e5f6071"),
    "HD": bytes.fromhex("9eb4050de44b4802932e27d75083e266"),
    "UHD": bytes.fromhex("c0ffee00c0ffee00c0ffee00c0ffee00"),
}


def _u(kid: bytes) -> str:
    return str(uuid.UUID(bytes=kid))


def _keys() -> dict[str, ContentKey]:
    return {
        label: ContentKey(label, kid, bytes([i + 1]) * 16, bytes([0x10 + i]) * 16)
        for i, (label, kid) in enumerate(KIDS.items())
    }


@pytest.fixture(scope="module")
def shared_schema() -> etree.XMLSchema:
    """The XSD from ../shared, loaded independently of drm.keyexchange.cpix (no network, no DTD)."""
    assert SHARED_XSD_DIR.is_dir(), f"CPIX schemas expected at {SHARED_XSD_DIR}"
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SHARED_XSD_DIR / "cpix.xsd"), parser))


# ---------------------------------------------------------------- schema copy


@pytest.mark.parametrize("name", cpix.SCHEMA_FILES)
def test_packaged_xsd_is_byte_identical_to_shared(name: str) -> None:
    packaged = (cpix.SCHEMA_DIR / name).read_bytes()
    assert packaged == (SHARED_XSD_DIR / name).read_bytes()
    assert (cpix.SCHEMA_DIR / "SOURCE.md").is_file()


# ---------------------------------------------------------------- requests


def test_request_validates_and_asks_for_speke_v2_signalling(shared_schema) -> None:
    systems = ["widevine", "playready", "fairplay", "clearkey"]
    data = build_request("movie-7", KIDS, scheme="cbcs", systems=systems)
    root = etree.fromstring(data)
    assert shared_schema.validate(root), shared_schema.error_log
    assert root.get("contentId") == "movie-7" and root.get("version") == "2.3"

    keys = root.findall("cpix:ContentKeyList/cpix:ContentKey", NS)
    assert [k.get("kid") for k in keys] == [_u(k) for k in KIDS.values()]
    assert all(k.get("commonEncryptionScheme") == "cbcs" for k in keys)
    assert root.find(".//cpix:Data", NS) is None and root.find(".//pskc:PlainValue", NS) is None

    drms = root.findall("cpix:DRMSystemList/cpix:DRMSystem", NS)
    assert len(drms) == len(KIDS) * len(systems)
    by = {(d.get("kid"), d.get("systemId")): d for d in drms}
    hd = _u(KIDS["HD"])

    def children(system_id: str) -> list[tuple[str, str | None]]:
        d = by[(hd, system_id)]
        assert all(not (c.text or "").strip() for c in d)  # requests leave them empty
        return [(etree.QName(c).localname, c.get("playlist")) for c in d]

    full = [
        ("PSSH", None),
        ("ContentProtectionData", None),
        ("HLSSignalingData", "media"),
        ("HLSSignalingData", "multiVariant"),
    ]
    assert children(WIDEVINE) == full
    assert children(PLAYREADY) == full
    assert children(FAIRPLAY) == [
        ("HLSSignalingData", "media"),
        ("HLSSignalingData", "multiVariant"),
    ]
    assert children(COMMON) == [("PSSH", None), ("ContentProtectionData", None)]

    rules = {
        r.get("intendedTrackType"): r
        for r in root.findall("cpix:ContentKeyUsageRuleList/cpix:ContentKeyUsageRule", NS)
    }
    assert set(rules) == {"AUDIO", "SD", "HD", "UHD"}
    assert rules["AUDIO"].get("kid") == _u(KIDS["AUDIO"])
    assert rules["AUDIO"].find("cpix:AudioFilter", NS) is not None
    assert rules["AUDIO"].find("cpix:VideoFilter", NS) is None
    px = {
        label: (
            rules[label].find("cpix:VideoFilter", NS).get("minPixels"),
            rules[label].find("cpix:VideoFilter", NS).get("maxPixels"),
        )
        for label in ("SD", "HD", "UHD")
    }
    assert px == {
        "SD": (None, str(768 * 576)),
        "HD": (str(768 * 576 + 1), str(1920 * 1080)),
        "UHD": (str(1920 * 1080 + 1), None),
    }

    back = parse_request(data)  # our own key server reads it back
    assert back.kids_by_label() == KIDS and back.keys == {}


def test_request_combined_label_and_speke_master_spelling(shared_schema) -> None:
    kids = {"AUDIO": KIDS["AUDIO"], "SD+HD": KIDS["HD"]}
    data = build_request("c1", kids, scheme="cenc", systems=["widevine"], master_playlist="master")
    root = etree.fromstring(data)
    assert root.find(".//cpix:HLSSignalingData[@playlist='master']", NS) is not None
    rule = root.find("cpix:ContentKeyUsageRuleList/cpix:ContentKeyUsageRule[2]", NS)
    assert rule.get("intendedTrackType") == "SD+HD"
    assert [f.get("maxPixels") for f in rule.findall("cpix:VideoFilter", NS)] == [
        "442368",
        "2073600",
    ]
    doc = parse_request(data)
    assert doc.schemes[KIDS["HD"]] == "cenc"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"systems": ["fairplay"], "scheme": "cenc"}, "FairPlay needs the cbcs"),
        ({"systems": ["primetime"]}, "unknown DRM system 'primetime'"),
        ({"scheme": "cens"}, "scheme must be one of"),
        ({"kids": {"HDR10": KIDS["HD"]}}, "label 'HDR10' has no track filter"),
        ({"kids": {"SD": b"short"}}, "must be 16 bytes, got 5"),
        ({"kids": {"SD": KIDS["SD"], "HD": KIDS["SD"]}}, "share a KID"),
        ({"kids": {}}, "no KIDs"),
        ({"content_id": ""}, "content_id"),
    ],
)
def test_request_refuses_bad_input(kwargs: dict, fragment: str) -> None:
    args = {"content_id": "m", "kids": KIDS, "scheme": "cbcs", "systems": ["widevine"]}
    args.update(kwargs)
    with pytest.raises(CpixError, match=fragment):
        build_request(
            args["content_id"], args["kids"], scheme=args["scheme"], systems=args["systems"]
        )


# ---------------------------------------------------------------- round trip


def _fake_pssh(system: str, key: ContentKey) -> bytes | None:
    if system != "widevine":
        return None
    payload = b"\x12\x10" + key.kid
    size = 32 + len(payload)
    return (
        size.to_bytes(4, "big")
        + b"pssh\x00\x00\x00\x00"
        + uuid.UUID(WIDEVINE).bytes
        + len(payload).to_bytes(4, "big")
        + payload
    )


def test_build_response_round_trip(shared_schema) -> None:
    systems = ["widevine", "playready"]
    request = build_request("movie-7", KIDS, scheme="cenc", systems=systems)
    keys = _keys()
    data = build_response(request, keys, "cenc", systems, pssh_for=_fake_pssh)
    assert shared_schema.validate(etree.fromstring(data)), shared_schema.error_log

    doc = parse_response(data)
    assert doc.content_id == "movie-7"
    assert doc.keys_by_label() == keys  # same labels, KIDs, key bytes and IVs
    for label, kid in KIDS.items():
        sig = doc.drm[kid]
        assert base64.b64decode(sig[WIDEVINE].pssh) == _fake_pssh("widevine", keys[label])
        assert sig[PLAYREADY].pssh is None and sig[PLAYREADY].system == "playready"
        assert doc.schemes[kid] == "cenc"
    assert {r.intended_track_type for r in doc.usage_rules} == set(KIDS)


def test_build_response_from_content_id_and_checks_against_request() -> None:
    data = build_response("title-9", {"AUDIO": _keys()["AUDIO"]}, "cbcs", ["fairplay"])
    doc = parse_response(data)
    assert doc.content_id == "title-9"
    assert doc.keys_by_label()["AUDIO"].key == b"\x01" * 16

    request = build_request("t", KIDS, scheme="cbcs", systems=["widevine"])
    with pytest.raises(CpixError, match=f"asks for KID {_u(KIDS['UHD'])}, which has no key"):
        build_response(request, {k: v for k, v in _keys().items() if k != "UHD"}, "cbcs", [])
    with pytest.raises(CpixError, match="requested as cbcs, not cenc"):
        build_response(request, _keys(), "cenc", ["widevine"])


# ---------------------------------------------------------------- a SPEKE v2 response

VIDEO_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
AUDIO_KEY = bytes.fromhex("fedcba98765432100123456789abcdef")
VIDEO_KID = "9eb4050d-e44b-4802-932e-27d75083e266"
AUDIO_KID = "1fc17c8c-2a44-4c59-a5ad-3aa35f1ed0a3"
WV_PSSH = "AAAAO3Bzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAABsSEJ60BQ3kS0gCky4n11CD4mYiB21vdmllLTc="
HLS_MEDIA = (
    "I0VYVC1YLUtFWTpNRVRIT0Q9U0FNUExFLUFFUyxVUkk9InNrZDovL21vdmllLTcvOWViNDA1MGQiLEtFWUZPUk1B"
    "VD0iY29tLmFwcGxlLnN0cmVhbWluZ2tleWRlbGl2ZXJ5IixLRVlGT1JNQVRWRVJTSU9OUz0iMSI="
)
HLS_MASTER = (
    "I0VYVC1YLVNFU1NJT04tS0VZOk1FVEhPRD1TQU1QTEUtQUVTLFVSST0ic2tkOi8vbW92aWUtNy85ZWI0MDUwZCIs"
    "S0VZRk9STUFUPSJjb20uYXBwbGUuc3RyZWFtaW5na2V5ZGVsaXZlcnkiLEtFWUZPUk1BVFZFUlNJT05TPSIxIg=="
)

# As a SPEKE v2.0 key provider answers: HLSSignalingData first, playlist="master", and the
# deprecated cpix:URIExtXKey still present for FairPlay.
SPEKE_V2_RESPONSE = f"""<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX contentId="movie-7" version="2.3" xmlns:cpix="urn:dashif:org:cpix"
    xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="{VIDEO_KID}" commonEncryptionScheme="cbcs"
        explicitIV="Dw4NDAsKCQgHBgUEAwIBAA==">
      <cpix:Data>
        <pskc:Secret>
          <pskc:PlainValue>ABEiM0RVZneImaq7zN3u/w==</pskc:PlainValue>
        </pskc:Secret>
      </cpix:Data>
    </cpix:ContentKey>
    <cpix:ContentKey kid="{AUDIO_KID}" commonEncryptionScheme="cbcs">
      <cpix:Data>
        <pskc:Secret>
          <pskc:PlainValue>
            /ty6mHZUMhABI0VniavN7w==
          </pskc:PlainValue>
        </pskc:Secret>
      </cpix:Data>
    </cpix:ContentKey>
  </cpix:ContentKeyList>
  <cpix:DRMSystemList>
    <!-- Widevine -->
    <cpix:DRMSystem kid="{VIDEO_KID}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed">
      <cpix:HLSSignalingData playlist="media">{HLS_MEDIA}</cpix:HLSSignalingData>
      <cpix:HLSSignalingData playlist="master">{HLS_MASTER}</cpix:HLSSignalingData>
      <cpix:ContentProtectionData>PG1zcHI6cHJvPkFBQUE8L21zcHI6cHJvPg==</cpix:ContentProtectionData>
      <cpix:PSSH>{WV_PSSH}</cpix:PSSH>
    </cpix:DRMSystem>
    <!-- FairPlay -->
    <cpix:DRMSystem kid="{VIDEO_KID}" systemId="94CE86FB-07FF-4F43-ADB8-93D2FA968CA2">
      <cpix:HLSSignalingData playlist="media">{HLS_MEDIA}</cpix:HLSSignalingData>
      <cpix:HLSSignalingData playlist="master">{HLS_MASTER}</cpix:HLSSignalingData>
      <cpix:URIExtXKey>c2tkOi8vbW92aWUtNy85ZWI0MDUwZA==</cpix:URIExtXKey>
    </cpix:DRMSystem>
    <cpix:DRMSystem kid="{AUDIO_KID}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed">
      <cpix:PSSH>{WV_PSSH}</cpix:PSSH>
    </cpix:DRMSystem>
  </cpix:DRMSystemList>
  <cpix:ContentKeyUsageRuleList>
    <cpix:ContentKeyUsageRule kid="{VIDEO_KID}" intendedTrackType="SD+HD">
      <cpix:VideoFilter maxPixels="442368"/>
      <cpix:VideoFilter minPixels="442369" maxPixels="2073600"/>
    </cpix:ContentKeyUsageRule>
    <cpix:ContentKeyUsageRule kid="{AUDIO_KID}" intendedTrackType="AUDIO">
      <cpix:AudioFilter maxChannels="2"/>
    </cpix:ContentKeyUsageRule>
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>
""".encode()


def test_speke_v2_response_parses_to_known_keys() -> None:
    doc = parse_response(SPEKE_V2_RESPONSE, source="speke.example.com")
    keys = doc.keys_by_label()
    assert set(keys) == {"SD", "HD", "AUDIO"}
    assert keys["SD"].key == keys["HD"].key == VIDEO_KEY
    assert keys["HD"].kid == uuid.UUID(VIDEO_KID).bytes
    assert keys["HD"].iv == bytes(range(15, -1, -1))
    assert keys["AUDIO"].key == AUDIO_KEY and keys["AUDIO"].iv is None

    video = doc.drm[uuid.UUID(VIDEO_KID).bytes]
    wv = video[WIDEVINE]
    box = base64.b64decode(wv.pssh)
    assert box[4:8] == b"pssh" and box[12:28] == uuid.UUID(WIDEVINE).bytes
    assert base64.b64decode(wv.content_protection_data) == b"<mspr:pro>AAAA</mspr:pro>"
    fp = video[FAIRPLAY]  # system ids are normalised to lower case
    assert fp.system == "fairplay" and fp.pssh is None
    assert base64.b64decode(fp.hls_media).startswith(b"#EXT-X-KEY:METHOD=SAMPLE-AES,URI=")
    assert base64.b64decode(fp.hls_master).startswith(b"#EXT-X-SESSION-KEY:")
    assert base64.b64decode(fp.uri_ext_x_key) == b"skd://movie-7/9eb4050d"

    rules = {r.intended_track_type: r for r in doc.usage_rules}
    assert [(f.min_pixels, f.max_pixels) for f in rules["SD+HD"].video_filters] == [
        (None, 442368),
        (442369, 2073600),
    ]
    assert rules["AUDIO"].audio_filters[0].max_channels == 2

    for secret in (VIDEO_KEY, AUDIO_KEY):  # keys never show up in reprs
        for text in (repr(doc), repr(keys), str(keys["HD"])):
            assert secret.hex() not in text
            assert base64.b64encode(secret).decode() not in text
            assert repr(secret) not in text


def test_strict_mode_holds_speke_v2_to_the_xsd() -> None:
    with pytest.raises(CpixError, match=r"not valid CPIX 2\.3: line \d+"):
        parse_response(SPEKE_V2_RESPONSE, strict=True)


# ---------------------------------------------------------------- hostile and malformed


def _doc(keys: str, drm: str = "", rules: str = "", extra_root: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"
    contentId="x"{extra_root}>
  <cpix:ContentKeyList>{keys}</cpix:ContentKeyList>
  {f"<cpix:DRMSystemList>{drm}</cpix:DRMSystemList>" if drm else ""}
  {f"<cpix:ContentKeyUsageRuleList>{rules}</cpix:ContentKeyUsageRuleList>" if rules else ""}
</cpix:CPIX>""".encode()


def _key(kid: str, value: str = "ABEiM0RVZneImaq7zN3u/w==", attrs: str = "") -> str:
    return (
        f'<cpix:ContentKey kid="{kid}"{attrs}><cpix:Data><pskc:Secret>'
        f"<pskc:PlainValue>{value}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>"
    )


OTHER_KID = "0bad0bad-0bad-4bad-8bad-0bad0bad0bad"
ENCRYPTED_VALUE = (
    "<pskc:EncryptedValue>"
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>'
    "<xenc:CipherData><xenc:CipherValue>AAECAwQFBgcICQoLDA0ODw==</xenc:CipherValue>"
    "</xenc:CipherData></pskc:EncryptedValue>"
)
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" contentId="&lol9;"/>"""

HOSTILE = {
    "not xml": (b"HTTP/1.1 502 Bad Gateway", "not well-formed XML"),
    "empty": (b"", "empty"),
    "truncated": (_doc(_key(VIDEO_KID))[:-20], "not well-formed XML"),
    "xxe passwd": (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        "DOCTYPE",
    ),
    "xxe parameter entity": (
        b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><x/>',
        "DOCTYPE",
    ),
    "external dtd": (b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>', "DOCTYPE"),
    "billion laughs": (BILLION_LAUGHS, "DOCTYPE"),
    "wrong root namespace": (
        b'<CPIX xmlns="urn:dashif:org:cpix:v1"><ContentKeyList/></CPIX>',
        "expected <CPIX> in 'urn:dashif:org:cpix'",
    ),
    "no namespace": (b"<CPIX/>", r"namespace '\(none\)'"),
    "wrong root element": (
        b'<cpix:ContentKeyList xmlns:cpix="urn:dashif:org:cpix"/>',
        "root element is <ContentKeyList>",
    ),
    "usage rule unknown kid": (
        _doc(
            _key(VIDEO_KID),
            rules=f'<cpix:ContentKeyUsageRule kid="{OTHER_KID}" intendedTrackType="HD"/>',
        ),
        f"references unknown KID {OTHER_KID}",
    ),
    "drm system unknown kid": (
        _doc(_key(VIDEO_KID), drm=f'<cpix:DRMSystem kid="{OTHER_KID}" systemId="{WIDEVINE}"/>'),
        "references a KID not in ContentKeyList",
    ),
    "key without data": (
        _doc(f'<cpix:ContentKey kid="{VIDEO_KID}" commonEncryptionScheme="cbcs"/>'),
        f"ContentKey {VIDEO_KID} .*has no key data",
    ),
    "duplicate kid": (_doc(_key(VIDEO_KID) + _key(VIDEO_KID.upper())), "duplicate KID"),
    "short key": (_doc(_key(VIDEO_KID, "AAECAwQFBgcICQoLDA0O")), "is 15 bytes; AES-128 needs 16"),
    "long key": (_doc(_key(VIDEO_KID, "A" * 43 + "=")), "is 32 bytes; AES-128 needs 16"),
    "bad iv": (_doc(_key(VIDEO_KID, attrs=' explicitIV="AAEC"')), "explicitIV .* 3 bytes"),
    "encrypted key": (
        _doc(
            f'<cpix:ContentKey kid="{VIDEO_KID}"><cpix:Data><pskc:Secret>{ENCRYPTED_VALUE}'
            "</pskc:Secret></cpix:Data></cpix:ContentKey>",
            extra_root=' xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"',
        ),
        "encrypted content keys are not supported",
    ),
    "label on two kids": (
        _doc(
            _key(VIDEO_KID) + _key(AUDIO_KID),
            rules=f'<cpix:ContentKeyUsageRule kid="{VIDEO_KID}" intendedTrackType="HD"/>'
            f'<cpix:ContentKeyUsageRule kid="{AUDIO_KID}" intendedTrackType="HD"/>',
        ),
        "label 'HD' is used for two different KIDs",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_malformed_documents_are_refused(case: str) -> None:
    data, fragment = HOSTILE[case]
    with pytest.raises(CpixError) as info:
        parse_response(data, source="keys.example.com")
    message = str(info.value)
    assert message.startswith("[cpix] keys.example.com: "), message
    assert re.search(fragment, message), message
    assert "ABEiM0RVZneImaq7zN3u" not in message  # key material never echoed
    assert "root:" not in message  # nothing from /etc/passwd


def test_delivery_data_list_is_refused_as_unsupported() -> None:
    data = f"""<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix"
    xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  <cpix:DeliveryDataList>
    <cpix:DeliveryData>
      <cpix:DeliveryKey><ds:X509Data><ds:X509Certificate>AAEC</ds:X509Certificate></ds:X509Data>
      </cpix:DeliveryKey>
      <cpix:DocumentKey><cpix:Data><pskc:Secret>{ENCRYPTED_VALUE}</pskc:Secret></cpix:Data>
      </cpix:DocumentKey>
    </cpix:DeliveryData>
  </cpix:DeliveryDataList>
  <cpix:ContentKeyList>{_key(VIDEO_KID)}</cpix:ContentKeyList>
</cpix:CPIX>""".encode()
    with pytest.raises(CpixError, match="DocumentKey .*not supported"):
        parse_response(data)


def test_schema_violation_reports_the_line() -> None:
    data = _doc(_key(VIDEO_KID) + '\n<cpix:ContentKey kid="not-a-uuid"/>')
    line = next(i for i, t in enumerate(data.decode().splitlines(), 1) if "not-a-uuid" in t)
    with pytest.raises(CpixError) as info:
        parse_response(data, source="resp.xml")
    assert f"not valid CPIX 2.3: line {line}:" in str(info.value)
    assert "not-a-uuid" in str(info.value)
    assert info.value.detail  # the full validator log, for the CLI's detail block

    bogus = _doc(_key(VIDEO_KID)).replace(
        b"<cpix:ContentKeyList>", b"<cpix:Bogus/>\n<cpix:ContentKeyList>", 1
    )
    line = next(i for i, t in enumerate(bogus.decode().splitlines(), 1) if "Bogus" in t)
    with pytest.raises(CpixError, match=f"not valid CPIX 2.3: line {line}: .*Bogus"):
        parse_response(bogus)


def test_labels_outside_ours_are_refused_when_asking_for_keys() -> None:
    data = _doc(
        _key(VIDEO_KID),
        rules=f'<cpix:ContentKeyUsageRule kid="{VIDEO_KID}" intendedTrackType="HDR"/>',
    )
    doc = parse_response(data)
    assert doc.kids_by_label() == {"HDR": uuid.UUID(VIDEO_KID).bytes}
    with pytest.raises(CpixError, match="intendedTrackType 'HDR': unknown key label"):
        doc.keys_by_label()
    all_doc = parse_response(
        _doc(
            _key(VIDEO_KID),
            rules=f'<cpix:ContentKeyUsageRule kid="{VIDEO_KID}" '
            'intendedTrackType="ALL"><cpix:VideoFilter/><cpix:AudioFilter/>'
            "</cpix:ContentKeyUsageRule>",
        )
    )
    assert set(all_doc.keys_by_label()) == {"AUDIO", "SD", "HD", "UHD"}


def test_xxe_never_opens_the_named_file(tmp_path: Path) -> None:
    """A FIFO blocks whoever opens it for reading; if the parser tried, the call would hang."""
    fifo = tmp_path / "secret"
    os.mkfifo(fifo)
    data = (
        f'<?xml version="1.0"?><!DOCTYPE cpix:CPIX [<!ENTITY e SYSTEM "file://{fifo}">]>'
        '<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix"><cpix:ContentKeyList>&e;'
        "</cpix:ContentKeyList></cpix:CPIX>"
    ).encode()
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(parse_response(data))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # release the blocked reader before failing
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"LEAKED")
        os.close(fd)
        worker.join(timeout=5)
        pytest.fail("the parser opened the file named by an external entity")
    assert len(outcome) == 1 and isinstance(outcome[0], CpixError), outcome
    assert "DOCTYPE" in str(outcome[0])


def test_parse_xml_helper_names_the_source_and_caps_size() -> None:
    with pytest.raises(XmlSafetyError, match=r"^\[xml\] feed\.xml: refused: .*DOCTYPE"):
        parse_xml(BILLION_LAUGHS, "feed.xml")
    with pytest.raises(XmlSafetyError, match="over the 100 limit"):
        parse_xml(b"<a>" + b" " * 200 + b"</a>", "big.xml", max_bytes=100)
    with pytest.raises(XmlSafetyError, match="expected XML bytes, got str"):
        parse_xml("<a/>", "text")  # type: ignore[arg-type]
    assert parse_xml(b"<a><b/></a>", "ok.xml").tag == "a"


# ---------------------------------------------------------------- no network, and fast


@pytest.fixture
def listener():
    """A loopback TCP listener that records whether anything connected."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def test_parsing_never_touches_the_network_and_is_fast(monkeypatch, listener) -> None:
    """Python sockets are blocked, and a loopback listener proves libxml2 (C) never dials."""
    port = listener.getsockname()[1]
    attempts: list[tuple] = []

    def blocked(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted during CPIX parsing")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setattr(socket.socket, "connect_ex", blocked)
    monkeypatch.setattr(socket, "create_connection", blocked)
    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    cpix._schema.cache_clear()  # the XSD (and its imports) must load offline too

    url = f"http://127.0.0.1:{port}/steal"
    hostile = [
        f'<!DOCTYPE x [<!ENTITY e SYSTEM "{url}">]>'
        '<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix">&e;</cpix:CPIX>',
        f'<!DOCTYPE cpix:CPIX SYSTEM "{url}"><cpix:CPIX xmlns:cpix="urn:dashif:org:cpix"/>',
        f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{url}"> %p;]><x/>',
    ]
    refusals = []
    for doc in hostile:
        with pytest.raises(CpixError) as info:
            parse_response(doc.encode())
        refusals.append(str(info.value))
    with pytest.raises(BlockingIOError):  # nobody dialled the listener (libxml2 < 2.14 could)
        listener.accept()
    assert all("DOCTYPE" in message for message in refusals), refusals

    parse_response(SPEKE_V2_RESPONSE)  # warm-up: schema load
    start = time.perf_counter()
    for _ in range(100):
        doc = parse_response(SPEKE_V2_RESPONSE)
    elapsed = time.perf_counter() - start
    assert doc.keys_by_label()["HD"].key == VIDEO_KEY
    assert attempts == []
    assert elapsed < 5.0, f"100 parses took {elapsed:.2f}s"
