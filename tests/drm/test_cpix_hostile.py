"""CPIX documents we must refuse: hostile XML (entities, DOCTYPEs, XXE), malformed or
inconsistent documents, encrypted keys; and parsing that never touches the network."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from core.xml_safety import XmlSafetyError, parse_xml
from drm.keyexchange.cpix import (
    CpixError,
    parse_response,
    schema,
)
from tests.support.cpix_documents import (
    AUDIO_KID,
    SPEKE_V2_RESPONSE,
    VIDEO_KEY,
    VIDEO_KID,
    WIDEVINE,
)

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
    schema.load_schema.cache_clear()  # the XSD (and its imports) must load offline too

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
