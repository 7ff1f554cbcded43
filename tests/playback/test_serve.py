"""`vod serve` origin: the HTTP behaviours players depend on, and what it must refuse."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from playback.origin.devserver import (
    PLAYER_LIBS,
    STATIC_DIR,
    clearkey_license,
    find_titles,
    player_libs_dir,
)
from playback.origin.files import base_url, parse_range
from playback.origin.server import make_server
from tests.support.player_harness import serve_directory
from tests.support.requirements import require

PAYLOAD = bytes(range(256)) * 40  # 10240 bytes with position-dependent content


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """An origin with two titles, one nested, plus a secret just outside the root."""
    root = tmp_path / "origin"
    sample = root / "sample"
    (sample / "video").mkdir(parents=True)
    (sample / "master.m3u8").write_text("#EXTM3U\n")
    (sample / "manifest.mpd").write_text("<MPD/>")
    (sample / "video" / "seg_1.m4s").write_bytes(PAYLOAD)
    for name in ("init.mp4", "subs.vtt", "iframes.m3u8", "player.js", "notes.json"):
        (sample / name).write_bytes(b"x")
    (root / "shows" / "ep1").mkdir(parents=True)
    (root / "shows" / "ep1" / "manifest.mpd").write_text("<MPD/>")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "master.m3u8").write_text("#EXTM3U\n")
    (tmp_path / "secret.txt").write_text("top secret")
    return root


@pytest.fixture
def base(origin: Path) -> Iterator[str]:
    with serve_directory(origin) as url:
        yield url


def request(
    base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None, body=None
) -> tuple[int, dict[str, str], bytes]:
    """Send path verbatim (no client-side normalisation of `..`), return status/headers/body."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def test_get_sends_cors_and_range_support(base: str) -> None:
    status, headers, body = request(base, "/sample/video/seg_1.m4s")
    assert status == 200
    assert body == PAYLOAD
    assert headers["access-control-allow-origin"] == "*"
    exposed = headers["access-control-expose-headers"]
    assert "Content-Range" in exposed and "Content-Length" in exposed
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-length"] == str(len(PAYLOAD))


def test_options_preflight(base: str) -> None:
    status, headers, body = request(
        base,
        "/sample/master.m3u8",
        "OPTIONS",
        {
            "Origin": "http://player.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert status == 204
    assert body == b""
    assert headers["access-control-allow-origin"] == "*"
    assert "GET" in headers["access-control-allow-methods"]
    assert "range" in headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=100-199", 100, 199), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239)],
)
def test_range_request_returns_exact_bytes(base: str, range_header: str, start: int, end: int):
    status, headers, body = request(
        base, "/sample/video/seg_1.m4s", headers={"Range": range_header}
    )
    assert status == 206
    assert body == PAYLOAD[start : end + 1]
    assert headers["content-range"] == f"bytes {start}-{end}/{len(PAYLOAD)}"
    assert headers["content-length"] == str(end - start + 1)


def test_range_past_end_is_416(base: str) -> None:
    status, headers, _ = request(base, "/sample/video/seg_1.m4s", headers={"Range": "bytes=99999-"})
    assert status == 416
    assert headers["content-range"] == f"bytes */{len(PAYLOAD)}"


def test_head_has_length_and_no_body(base: str) -> None:
    status, headers, body = request(base, "/sample/video/seg_1.m4s", "HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(PAYLOAD))


def test_parse_range_edges() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=5-100", 10) == (5, 9)
    assert parse_range("bytes=0-1,4-5", 10) is None  # multi-range: serve whole file
    assert parse_range("bytes=-0", 10) is False
    assert parse_range("bytes=10-", 10) is False
    assert parse_range("items=0-1", 10) is None


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/sample/master.m3u8", "application/vnd.apple.mpegurl"),
        ("/sample/iframes.m3u8", "application/vnd.apple.mpegurl"),
        ("/sample/manifest.mpd", "application/dash+xml"),
        ("/sample/video/seg_1.m4s", "video/iso.segment"),
        ("/sample/init.mp4", "video/mp4"),
        ("/sample/subs.vtt", "text/vtt"),
        ("/sample/player.js", "application/javascript"),
        ("/sample/notes.json", "application/json"),
    ],
)
def test_content_types(base: str, path: str, ctype: str) -> None:
    status, headers, _ = request(base, path)
    assert status == 200
    assert headers["content-type"] == ctype


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/sample/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt",
        "/sample/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/_player/../../secret.txt",
        "/_player/%2e%2e/serve.py",
        "/sample/master.m3u8%00.txt",
    ],
)
def test_traversal_refused(base: str, path: str) -> None:
    status, _, body = request(base, path)
    assert status in (403, 404)
    assert b"top secret" not in body and b"def make_server" not in body


def test_symlink_escaping_root_refused(base: str, origin: Path) -> None:
    (origin / "escape").symlink_to(origin.parent)
    (origin / "leak.txt").symlink_to(origin.parent / "secret.txt")
    (origin / "sample" / "alias.m3u8").symlink_to(origin / "sample" / "master.m3u8")
    assert request(base, "/escape/secret.txt")[0] == 403
    assert request(base, "/leak.txt")[0] == 403
    status, _, body = request(base, "/sample/alias.m3u8")  # a link inside the root is fine
    assert (status, body) == (200, b"#EXTM3U\n")


def test_absolute_path_stays_in_root(base: str) -> None:
    status, _, body = request(base, "//etc/passwd")
    assert status == 404
    assert b"root:" not in body


def test_no_directory_listing(base: str) -> None:
    for path in ("/sample/", "/sample", "/shows/ep1/"):
        status, _, body = request(base, path)
        assert status == 404, path
        assert b"master.m3u8" not in body


def test_titles_index(base: str, origin: Path) -> None:
    status, headers, body = request(base, "/_titles")
    assert status == 200
    assert headers["content-type"] == "application/json"
    titles = json.loads(body)
    assert titles == [
        {"id": "sample", "hls": "/sample/master.m3u8", "dash": "/sample/manifest.mpd"},
        {"id": "shows/ep1", "hls": None, "dash": "/shows/ep1/manifest.mpd"},
    ]
    assert find_titles(origin) == titles
    for title in titles:
        for url in filter(None, (title["hls"], title["dash"])):
            assert request(base, url)[0] == 200


def test_player_page_and_assets(base: str) -> None:
    status, headers, page = request(base, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    scripts = re.findall(rb'src="(/_player/[^"]+)"', page)
    assert scripts == [b"/_player/seekbar.js", b"/_player/player.js"]
    status, headers, seekbar = request(base, "/_player/seekbar.js")
    assert status == 200 and headers["content-type"] == "application/javascript"
    assert b"window.vodThumbnailAt" in seekbar
    status, headers, js = request(base, "/_player/player.js")
    assert status == 200 and headers["content-type"] == "application/javascript"
    assert b"window.vodStatus" in js
    lib_urls = set(re.findall(rb"'(/_player/lib/[^']+)'", js))
    assert lib_urls == {f"/_player/lib/{name}".encode() for name in PLAYER_LIBS}


def test_player_libraries_resolve(base: str) -> None:
    libs = player_libs_dir()
    present = all((libs / rel).is_file() for rel in PLAYER_LIBS.values())
    require(present, f"player libraries under {libs}", "run scripts/setup.sh")
    for name in PLAYER_LIBS:
        status, headers, body = request(base, f"/_player/lib/{name}")
        assert status == 200, name
        assert headers["content-type"] == "application/javascript"
        assert len(body) > 100_000, name  # real minified player builds, not stubs


def test_missing_player_libraries_point_to_setup(origin: Path, tmp_path: Path) -> None:
    server = make_server(origin, player_libs=tmp_path / "no_node_modules")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, _, body = request(base_url(server), "/_player/lib/hls.min.js")
        assert status == 404
        assert b"scripts/setup.sh" in body
        assert request(base_url(server), "/_player/lib/evil.js")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_make_server_rejects_missing_root(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        make_server(tmp_path / "nope")


def test_clearkey_licence_endpoint(base: str) -> None:
    kid, key = "0123456789abcdef0123456789abcdef", "00112233445566778899aabbccddeeff"
    request_body = json.dumps({"kids": ["ASNFZ4mrze8BI0VniavN7w"], "type": "temporary"})
    status, headers, body = request(
        base, f"/_clearkey?keys={kid}:{key}", "POST", {"Content-Type": "application/json"},
        request_body,
    )  # fmt: skip
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert json.loads(body) == {
        "keys": [{"kty": "oct", "kid": "ASNFZ4mrze8BI0VniavN7w", "k": "ABEiM0RVZneImaq7zN3u_w"}],
        "type": "temporary",
    }
    assert clearkey_license(f"{kid}:{key}", b'{"kids": ["AAAAAAAAAAAAAAAAAAAAAA"]}')["keys"] == []


def test_static_dir_ships_page() -> None:
    assert (STATIC_DIR / "player.html").is_file()
    assert (STATIC_DIR / "player.js").is_file()
