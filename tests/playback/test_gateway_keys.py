"""The origin never hands out keys it should not: the gateway (`vod serve --gateway`) serves no
keys at all and rewrites a session's HLS key lines to the session's key route; the development
server keeps open ClearKey endpoints, on loopback only when it holds a key store, and says so;
the gateway's secret comes from the environment or a file, never the command line."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from core.errors import ConfigError
from drm.keystore import LocalKeyStore
from drm.signalling.clearkey import license_request
from drm.signalling.hls import hls_key_lines, session_key_lines
from playback.grant import encode_grant
from playback.origin.server import is_loopback, make_server
from playback.tokens import PATH_PREFIX, sign_token
from tests.support.common import ROOT, VOD, run_vod
from tests.support.player_harness import fetch, serve_directory

SECRET = b"gateway-keys-test-secret"
SD, HD = b"\x01" * 16, b"\x02" * 16
KEY_BASE = "http://api.test/playback/v1/sessions/sid12345/keys"
CREDENTIAL = "st=1~exp=9~acl=/playback/v1/sessions/sid12345/*~id=sid12345~hmac=" + "cd" * 32
NO_KEYS = b"keys are delivered only by the API's session licence proxy"


def media(kid: bytes, seg_dir: str) -> str:
    keys = "\n".join(hls_key_lines(["clearkey", "widevine"], "cbcs", kid))
    return (
        f'#EXTM3U\n#EXT-X-TARGETDURATION:6\n{keys}\n#EXT-X-MAP:URI="{seg_dir}/init.mp4"\n'
        f"#EXTINF:6,\n{seg_dir}/1.m4s\n#EXT-X-ENDLIST\n"
    )


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `--scheme both`-style title: playlists at the top and in cbcs/, SD and HD keys."""
    root = tmp_path_factory.mktemp("gk-origin")
    title = root / "t"
    (title / "cbcs" / "sd").mkdir(parents=True)
    (title / "cbcs" / "hd").mkdir(parents=True)
    session = [
        *session_key_lines(["clearkey"], "cbcs", SD),
        *session_key_lines(["clearkey"], "cbcs", HD),
    ]
    (title / "master.m3u8").write_text(
        "#EXTM3U\n" + "\n".join(session) + "\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsd.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2\nhd.m3u8\n"
    )
    for name, kid in (("sd", SD), ("hd", HD)):
        (title / f"{name}.m3u8").write_text(media(kid, f"cbcs/{name}"))
        (title / "cbcs" / f"{name}.m3u8").write_text(media(kid, name))
        (title / "cbcs" / name / "1.m4s").write_bytes(b"\x00" * 64)
    store = LocalKeyStore(root.parent / "gk-keys.sqlite")
    store.keys_for("t", ["SD"])  # a key store the dev server may use
    return root


@pytest.fixture(scope="module")
def gateway(origin: Path) -> Iterator[str]:
    with serve_directory(origin, token_secret=SECRET) as base:
        yield base


def session_url(base: str, path: str, data: str) -> str:
    token = sign_token(SECRET, "/t/*", start=int(time.time()) - 5, lifetime=300, data=data)
    return f"{base}{PATH_PREFIX}{quote(token, safe='')}{path}"


SD_GRANT = encode_grant(["sd"], [SD], KEY_BASE, CREDENTIAL)


# -- the gateway -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, body",
    [
        (f"/license/clearkey/{SD.hex()}", None),
        ("/license/clearkey", license_request([SD])),
        ("/_clearkey?keys=" + SD.hex() + ":" + "00" * 16, license_request([SD])),
        ("/_clearkey", None),
    ],
)
def test_gateway_serves_no_keys(gateway: str, path: str, body: bytes | None) -> None:
    status, text = fetch(gateway + path, body)
    assert status == 404 and NO_KEYS in text and b"--key-store" not in text, text


def test_gateway_points_session_key_lines_at_the_session(gateway: str) -> None:
    key_uri = f'URI="{KEY_BASE}/{SD.hex()}?auth={quote(CREDENTIAL, safe="")}"'
    for path in ("/t/master.m3u8", "/t/sd.m3u8", "/t/cbcs/sd.m3u8"):
        status, text = fetch(session_url(gateway, path, SD_GRANT))
        assert status == 200, (path, text)
        body = text.decode()
        assert key_uri in body and "/license/clearkey" not in body, path
        assert HD.hex() not in body.lower(), path
    status, text = fetch(session_url(gateway, "/t/master.m3u8", SD_GRANT))
    assert b"hd.m3u8" not in text and text.count(b"#EXT-X-SESSION-KEY") == 1
    for path in ("/t/hd.m3u8", "/t/cbcs/hd.m3u8", "/t/cbcs/hd/1.m4s"):
        status, text = fetch(session_url(gateway, path, SD_GRANT))
        assert status == 403 and b"rendition_not_allowed" in text, path
    assert fetch(session_url(gateway, "/t/cbcs/sd/1.m4s", SD_GRANT)) == (200, b"\x00" * 64)


def test_gateway_refuses_an_old_or_forged_grant(gateway: str) -> None:
    for data in ("sd,hd", SD_GRANT.replace("g1.", "g0."), SD_GRANT + ".x"):
        status, text = fetch(session_url(gateway, "/t/master.m3u8", data))
        assert status == 403 and b"malformed" in text, data


def test_plain_tokens_still_get_files_unfiltered(gateway: str, origin: Path) -> None:
    token = sign_token(SECRET, "/t/*", start=int(time.time()) - 5, lifetime=300)
    url = f"{gateway}{PATH_PREFIX}{quote(token, safe='')}/t/hd.m3u8"
    assert fetch(url) == (200, (origin / "t" / "hd.m3u8").read_bytes())


# -- what may be combined ------------------------------------------------------------------------


def test_gateway_takes_no_key_store(origin: Path) -> None:
    with pytest.raises(ConfigError, match="session licence proxy"):
        make_server(origin, key_store=origin.parent / "gk-keys.sqlite", token_secret=SECRET)


def test_dev_server_with_keys_binds_to_loopback_only(origin: Path) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        make_server(origin, host="0.0.0.0", key_store=origin.parent / "gk-keys.sqlite")
    open_server = make_server(origin, host="0.0.0.0")  # no keys: any address
    open_server.server_close()
    assert all(map(is_loopback, ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "10.0.0.1", "example.com", "")))


def test_dev_server_on_loopback_still_delivers_keys(origin: Path) -> None:
    store_path = origin.parent / "gk-keys.sqlite"
    key = LocalKeyStore(store_path).keys_for("t", ["SD"])["SD"]
    with serve_directory(origin, key_store=store_path) as base:
        assert fetch(f"{base}/license/clearkey/{key.kid.hex()}") == (200, key.key)
        status, body = fetch(f"{base}/license/clearkey", license_request([key.kid]))
        assert status == 200 and len(json.loads(body)["keys"]) == 1


# -- `vod serve` -----------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VOD_TOKEN_SECRET"}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def banner(*args: str, env: dict[str, str]) -> str:
    """What `vod serve` prints up to its watch-page line (then it is stopped)."""
    proc = subprocess.Popen(
        [*VOD, "serve", *args, "--port", "0"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Watch page:"):
                break
    finally:
        proc.kill()
        proc.wait(10)
    return "".join(lines)


def test_vod_serve_takes_the_secret_from_a_file_or_the_environment(
    origin: Path, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("file-secret\n")
    for args, env in (
        (["--token-secret-file", str(secret_file)], _env()),
        (["--gateway"], _env(VOD_TOKEN_SECRET="env-secret")),
    ):
        out = banner(str(origin), *args, env=env)
        assert "Gateway: CDN tokens required" in out and "no keys served here" in out, out
        assert "file-secret" not in out and "env-secret" not in out, out
    out = banner(str(origin), "--key-store", str(origin.parent / "gk-keys.sqlite"), env=_env())
    assert "ClearKey endpoints are OPEN" in out and "development only" in out, out
    assert "/license/clearkey/<kid hex>" in out


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--token-secret", "s3cret"], {}, "No such option '--token-secret'"),
        (["--gateway"], {}, "VOD_TOKEN_SECRET"),
        (["--gateway", "--key-store", "k.sqlite"], {"VOD_TOKEN_SECRET": "x"}, "no key store"),
        (["--key-store", "k.sqlite", "--host", "0.0.0.0"], {}, "loopback only"),
    ],
)
def test_vod_serve_refusals(origin: Path, args: list[str], env: dict, message: str) -> None:  # noqa: ANN001
    proc = run_vod("serve", str(origin), *args, "--port", "0", env=_env(**env), timeout=60)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    if args[0] != "--token-secret":
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_empty_secret_file_is_refused(origin: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    proc = run_vod("serve", str(origin), "--token-secret-file", str(empty), env=_env(), timeout=60)
    assert proc.returncode == 1 and "is empty" in proc.stderr, proc.stderr
