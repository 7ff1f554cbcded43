"""HLS key-line edges that mutation testing (scripts/mutation.sh drm/signalling/hls.py) found
untested: unquotable URIs, per-system licence URLs, KEYID only where players read it, and the
session-key copies keeping the tag and options for every system."""

from __future__ import annotations

import pytest

from drm.keys import DrmError
from drm.signalling.hls import hls_key_lines, session_key_lines
from drm.signalling.playready import playready_object
from drm.signalling.pssh import b64
from tests.support.drm_vectors import KEY1, KID1

KEYID = f"0x{KID1.hex().upper()}"


@pytest.mark.parametrize("bad", ['https://ck/"x', "https://ck/\nx"])
def test_a_key_uri_that_cannot_be_quoted_is_refused(bad: str) -> None:
    with pytest.raises(DrmError) as caught:
        hls_key_lines("clearkey", "cenc", KID1, la_url=bad)
    uri = f"{bad}/{KID1.hex()}"
    assert str(caught.value) == f"[drm] key URI {uri!r} cannot be quoted in a playlist"


def test_licence_urls_are_taken_per_system() -> None:
    urls = {"clearkey": "https://ck.example/lic/", "playready": "https://pr.example/rm.asmx"}
    ck, pr = hls_key_lines(["clearkey", "playready"], "cenc", KID1, key=KEY1, la_url=urls)
    assert ck == (
        f'#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="https://ck.example/lic/{KID1.hex()}",'
        f'KEYID={KEYID},KEYFORMAT="identity",KEYFORMATVERSIONS="1"'
    )
    pro = playready_object(KID1, "cenc", key=KEY1, la_url=urls["playready"])
    assert pr == (
        '#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;charset=UTF-16;base64,'
        f'{b64(pro)}",KEYFORMAT="com.microsoft.playready",KEYFORMATVERSIONS="1"'
    )


def test_fairplay_refuses_cenc_by_name() -> None:
    with pytest.raises(DrmError) as caught:
        hls_key_lines("fairplay", "cenc", KID1)
    assert str(caught.value) == "[drm] FairPlay needs the cbcs scheme (METHOD=SAMPLE-AES)"


def test_session_key_copies_keep_the_tag_and_the_options() -> None:
    lines = session_key_lines(
        ["fairplay", "clearkey"], "cbcs", KID1, skd_uri="skd://fp.example/k1", la_url="/ckX/"
    )
    assert [line.split(":", 1)[0] for line in lines] == ["#EXT-X-SESSION-KEY"] * 2
    assert 'URI="skd://fp.example/k1"' in lines[0]
    assert f'URI="/ckX/{KID1.hex()}"' in lines[1]  # only the trailing slash is cut
