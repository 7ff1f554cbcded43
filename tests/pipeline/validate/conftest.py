"""Fixtures of the validator tests: one clean title per session, a private copy per corruption,
and a loopback HTTP server for validation by URL. Helpers live in tests/support/validate_titles.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.media.presentation import Track
from tests.support.validate_titles import build_title, encode_sources, encode_uneven_audio


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """13 s of 320x180 and 256x144 H.264 (IDR every 2 s) and stereo AAC, fragmented MP4."""
    return encode_sources(tmp_path_factory.mktemp("validate_src"))


@pytest.fixture(scope="session")
def good(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Track]]:
    """A clean title (read-only: tests that corrupt copy it first)."""
    title = tmp_path_factory.mktemp("validate_good") / "title"
    return title, build_title(sources, title)


@pytest.fixture(scope="session")
def uneven(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Track]]:
    """A clean title whose AUDIO group has renditions of 128, 256 and 48 kb/s, in that order
    (read-only): the heaviest is neither the first nor the last."""
    encode_uneven_audio(sources)
    title = tmp_path_factory.mktemp("validate_uneven") / "title"
    extra = (("aud_hi", "fra"), ("aud_lo", "deu"))
    return title, build_title(sources, title, extra_audio=extra)


@pytest.fixture()
def title(good: tuple[Path, list[Track]], tmp_path: Path) -> Path:
    """A private copy of the clean title, for one corruption."""
    dest = tmp_path / "title"
    shutil.copytree(good[0], dest)
    return dest


class _Handler(http.server.SimpleHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).requested.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, served directory, paths requested so far) of a 127.0.0.1 http.server."""
    root = tmp_path_factory.mktemp("validate_http")
    handler = type("Handler", (_Handler,), {"requested": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", root, handler.requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy from the developer's environment."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
