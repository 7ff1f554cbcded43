"""Encrypted titles play in shaka-player with ClearKey (cenc DASH, cbcs DASH, cbcs HLS), with
keys from the licence endpoint of `vod serve` and from the player's clearKeys config; a wrong
key does not play."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drm.encryption.protect import Protection
from drm.keystore import LocalKeyStore
from pipeline.validate.title import validate
from pipeline.workflow.title import ingest
from playback.origin.devserver import LICENSE_PATH
from tests.support.player_harness import PlayerSession, serve_directory

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def drm_origin(tmp_path_factory: pytest.TempPathFactory, media_factory) -> dict:
    """One source packaged three ways, keys (video SD + AUDIO) in a private key store."""
    root = tmp_path_factory.mktemp("drm-origin")
    store_path = tmp_path_factory.mktemp("keys") / "keys.sqlite"
    store = LocalKeyStore(store_path)
    source = media_factory("basic")
    for scheme in ("cenc", "cbcs"):
        protection = Protection(
            systems=["clearkey", "widevine", "playready"], scheme=scheme, provider=store
        )
        result = ingest(
            source, f"title-{scheme}", root, device_classes=["mobile"], protection=protection
        )
        assert validate(result.title_dir).ok
    return {"root": root, "store": store_path, "store_obj": store}


@pytest.fixture(scope="module")
def origin_url(drm_origin: dict) -> Iterator[str]:
    with serve_directory(drm_origin["root"], key_store=drm_origin["store"]) as base:
        yield base


def clear_keys(store: LocalKeyStore, title: str) -> dict[str, str]:
    keys = store.keys_for(title, ["SD", "AUDIO"])
    assert len({k.kid for k in keys.values()}) == 2  # separate audio and video keys
    return {k.kid.hex(): k.key.hex() for k in keys.values()}


CASES = [("cenc", "manifest.mpd"), ("cbcs", "manifest.mpd"), ("cbcs", "master.m3u8")]


@pytest.mark.parametrize("scheme,manifest", CASES)
def test_plays_with_keys_from_licence_endpoint(
    scheme: str, manifest: str, origin_url: str, browser: PlayerSession
) -> None:
    result = browser.play(
        f"{origin_url}/title-{scheme}/{manifest}",
        "shaka",
        min_time=3.0,
        license_url=f"{origin_url}{LICENSE_PATH}",
    )
    assert result.ok, result.describe()


@pytest.mark.parametrize("scheme,manifest", CASES)
def test_plays_with_clear_keys_config(
    scheme: str, manifest: str, origin_url: str, drm_origin: dict, browser: PlayerSession
) -> None:
    keys = clear_keys(drm_origin["store_obj"], f"title-{scheme}")
    result = browser.play(
        f"{origin_url}/title-{scheme}/{manifest}", "shaka", min_time=3.0, clear_keys=keys
    )
    assert result.ok, result.describe()


@pytest.mark.parametrize("scheme,manifest", CASES)
def test_wrong_key_does_not_play(
    scheme: str, manifest: str, origin_url: str, drm_origin: dict, browser: PlayerSession
) -> None:
    keys = clear_keys(drm_origin["store_obj"], f"title-{scheme}")
    wrong = {kid: bytes(16).hex() for kid in keys}
    result = browser.play(
        f"{origin_url}/title-{scheme}/{manifest}",
        "shaka",
        min_time=3.0,
        clear_keys=wrong,
        timeout=20,
    )
    # refused by the decoder (wrong key -> garbage samples), not a timeout or a network error
    assert (result.error or "").startswith(
        "media element error 3: PipelineStatus::PIPELINE_ERROR_DECODE"
    ), result.describe()
    assert result.reached_time < 3.0


def test_licence_endpoint_never_serves_unknown_kids(origin_url: str) -> None:
    import json
    import urllib.request

    from drm.signalling.clearkey import b64url

    body = json.dumps({"kids": [b64url(b"\x01" * 16)], "type": "temporary"}).encode()
    req = urllib.request.Request(f"{origin_url}{LICENSE_PATH}", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["keys"] == []


def test_keys_never_reach_the_origin(drm_origin: dict) -> None:
    root: Path = drm_origin["root"]
    keys = clear_keys(drm_origin["store_obj"], "title-cbcs")
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".m3u8", ".mpd"):
            text = path.read_text()
            assert not any(key in text.lower() for key in keys.values())
