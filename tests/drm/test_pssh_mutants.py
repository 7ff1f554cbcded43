"""PSSH builder and reader edges that mutation testing (scripts/mutation.sh
drm/signalling/pssh.py) found untested: the exact refusals, the default box version and data,
boxes inside a `moof`, and the PlayReady key and per-system licence URL reaching the box."""

from __future__ import annotations

import struct

import pytest

from drm.keys import DrmError
from drm.signalling import pssh
from drm.signalling.playready import playready_object
from drm.signalling.systems import COMMON_ID, PLAYREADY_ID, WIDEVINE_ID
from drm.signalling.widevine import widevine_pssh_data
from tests.support.drm_vectors import KEY1, KID1, KID2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pssh.pssh_box(b"short"), "system ID must be 16 bytes"),
        (lambda: pssh.pssh_box(COMMON_ID, [b"short"]), "every KID must be 16 bytes"),
        (
            lambda: pssh.pssh_box(COMMON_ID, [KID1], version=0),
            "a version 0 pssh box cannot list KIDs; use version 1",
        ),
        (lambda: pssh.common_pssh([]), "the W3C Common PSSH must list at least one KID"),
        (lambda: pssh.check_scheme("cens"), "protection scheme must be cenc or cbcs, not 'cens'"),
        (
            lambda: pssh.system_list(["widevine", "Marlin"]),
            "unknown DRM system 'Marlin'; expected one of widevine, playready, fairplay, clearkey",
        ),
    ],
)
def test_refusals_are_exact(call, message: str) -> None:
    with pytest.raises(DrmError) as caught:
        call()
    assert str(caught.value) == f"[drm] {message}"


def test_version_defaults_to_one_with_kids_and_data_to_empty() -> None:
    [with_kids] = pssh.parse_pssh_boxes(pssh.pssh_box(COMMON_ID, [KID1, KID2]))
    assert with_kids.version == 1 and [k["kid"] for k in with_kids.kids] == [KID1, KID2]
    assert with_kids.data == b""
    bare = pssh.pssh_box(WIDEVINE_ID)
    assert bare == struct.pack(">I4sI16sI", 32, b"pssh", 0, WIDEVINE_ID, 0)


def test_boxes_inside_a_moof_are_found() -> None:
    box = pssh.common_pssh([KID1])
    moof = struct.pack(">I4s", 8 + len(box), b"moof") + box
    free = struct.pack(">I4s", 12, b"free") + b"pssh"
    [found] = pssh.parse_pssh_boxes(free + moof)
    assert found.system_id == COMMON_ID and [k["kid"] for k in found.kids] == [KID1]


def test_playready_box_carries_the_key_checksum_and_its_own_licence_url() -> None:
    urls = {"playready": "https://pr.example/rightsmanager.asmx", "widevine": "https://wv"}
    boxes = pssh.system_pssh_boxes(["playready", "widevine"], "cenc", KID1, key=KEY1, la_url=urls)
    expected = playready_object(KID1, "cenc", key=KEY1, la_url=urls["playready"])
    assert boxes["playready"] == pssh.pssh_box(PLAYREADY_ID, (), expected, 0)
    assert pssh.url_for(urls, "widevine") == "https://wv"
    assert pssh.url_for(urls, "clearkey") is None


def test_widevine_fields_reach_the_protobuf() -> None:
    box = pssh.widevine_pssh([KID1], "cbcs", provider="acme", content_id=b"title-1")
    data = widevine_pssh_data([KID1], "cbcs", provider="acme", content_id=b"title-1")
    assert box == pssh.pssh_box(WIDEVINE_ID, (), data, 0)
    assert b"acme" in box and b"title-1" in box
