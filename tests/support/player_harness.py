"""Headless-Chromium player harness for end-to-end tests.

A packaging bug is only proven fixed when a real player plays the output, so e2e
tests load streams into shaka-player, hls.js or dash.js inside Debian's Chromium
(driven by playwright, never its bundled browsers) and wait for playback to pass a
position. The page is vod/static/player.html served by `vod serve`'s own server; it
reports progress through `window.vodStatus`.

Usage::

    from tests.support.player_harness import browser, play, serve_directory  # noqa: F401 (fixture)

    def test_plays(tmp_path, browser):
        with serve_directory(tmp_path) as base:
            result = browser.play(f"{base}/title/master.m3u8", "shaka")
        assert result.ok, result.describe()
"""

from __future__ import annotations

import atexit
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import pytest

from playback.origin.devserver import PLAYER_LIBS, player_libs_dir
from playback.origin.server import base_url, make_server
from tests.support.requirements import require

Player = Literal["shaka", "hls.js", "dash.js"]
PLAYERS: tuple[Player, ...] = ("shaka", "hls.js", "dash.js")

CHROMIUM = "/usr/bin/chromium"
# REFERENCE.md section 1: without the background-networking flags Chromium keeps
# dialling out, and this machine's closed network refuses it. Playwright adds
# --headless itself and gives every launch a fresh temporary --user-data-dir.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

STATUS_JS = """() => {
  const s = window.vodStatus;
  if (!s) return null;
  return {state: s.state, currentTime: s.currentTime, error: s.error, ended: s.ended,
          variants: s.variants, warnings: s.warnings, duration: s.duration,
          heartbeats: s.heartbeats || 0};
}"""


@dataclass
class PlayResult:
    """What one playback attempt reached; `ok` is the verdict tests assert on."""

    reached_time: float
    error: str | None
    console_errors: list[str] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    min_time: float = 0.0
    ended: bool = False
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    page_url: str = ""
    heartbeats: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and self.reached_time >= self.min_time

    def describe(self) -> str:
        """One readable block for assertion messages."""
        lines = [
            f"reached {self.reached_time:.2f}s of {self.min_time:.2f}s in {self.elapsed:.1f}s"
            f" (ended={self.ended})",
            f"error: {self.error}",
            f"page: {self.page_url}",
        ]
        lines += [f"console: {m}" for m in self.console_errors[:10]]
        lines += [f"warning: {m}" for m in self.warnings[:10]]
        return "\n".join(lines)


@contextmanager
def serve_directory(
    root: Path | str, *, key_store: Path | None = None, token_secret: bytes | None = None
) -> Iterator[str]:
    """Serve root with `vod serve`'s server on a free loopback port; yields the base URL.
    With `key_store`, the server also answers ClearKey licence and key requests; with
    `token_secret` (not both: the gateway serves no keys), title requests need a valid CDN
    token (playback.tokens)."""
    server = make_server(Path(root), key_store=key_store, token_secret=token_secret)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="vod-serve"
    )
    thread.start()
    try:
        yield base_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fetch(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET (or a POST of `data`) to an origin; errors are answers too."""
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def missing_requirements() -> list[str]:
    """What the harness needs that this machine lacks (scripts/setup.sh installs all of it)."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("python package playwright")
    libs = player_libs_dir()
    missing += [str(libs / rel) for rel in PLAYER_LIBS.values() if not (libs / rel).is_file()]
    return missing


class PlayerSession:
    """One Chromium and one page server, shared by many plays (each in a fresh context)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._stack = ExitStack()
        try:
            page_root = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="vod-"))
            self.page_base = self._stack.enter_context(serve_directory(page_root))
            self._playwright = self._stack.enter_context(sync_playwright())
            self.browser = self._launch()
        except Exception:
            self._stack.close()
            raise

    def _launch(self) -> Any:
        return self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )

    def play(
        self,
        url: str,
        player: Player,
        *,
        min_time: float = 3.0,
        timeout: float = 45,
        clear_keys: dict[str, str] | None = None,
        license_url: str | None = None,
        retries: int = 1,
        page_params: dict[str, str] | None = None,
    ) -> PlayResult:
        """Play url until currentTime >= min_time, a player error, or timeout seconds.

        `page_params` go to the watch page as they are (CMCD, heartbeat: vod/static/player.js).
        """
        if player not in PLAYERS:
            raise ValueError(f"player must be one of {PLAYERS}, not {player!r}")
        query = {"src": url, "player": player, "autoplay": "1", "retries": str(retries)}
        if clear_keys:
            query["clearkeys"] = ",".join(f"{kid}:{key}" for kid, key in clear_keys.items())
        if license_url:
            query["licenseUrl"] = license_url
        query.update(page_params or {})
        page_url = f"{self.page_base}/?{urlencode(query)}"
        started = time.monotonic()
        if not self.browser.is_connected():  # Chromium crashed in an earlier play
            self.browser = self._launch()
        context = self.browser.new_context()
        console: list[str] = []
        try:
            page = context.new_page()
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            page.goto(page_url, wait_until="load", timeout=timeout * 1000)
            status = self._wait(page, min_time, started + timeout)
        finally:
            context.close()
        elapsed = time.monotonic() - started
        error = status.get("error")
        reached = float(status.get("currentTime") or 0.0)
        if error is None and reached < min_time and not status.get("ended"):
            error = (
                f"timeout: stalled at {reached:.2f}s (state {status.get('state')}) after "
                f"{timeout:.0f}s"
            )
        return PlayResult(
            reached_time=reached,
            error=error,
            console_errors=console,
            variants=list(status.get("variants") or []),
            min_time=min_time,
            ended=bool(status.get("ended")),
            warnings=list(status.get("warnings") or []),
            elapsed=elapsed,
            page_url=page_url,
            heartbeats=int(status.get("heartbeats") or 0),
        )

    @staticmethod
    def _wait(page: Any, min_time: float, deadline: float) -> dict[str, Any]:
        """Poll vodStatus until it reaches min_time, errors, ends, or the deadline passes."""
        status: dict[str, Any] = {}
        while True:
            status = page.evaluate(STATUS_JS) or {}
            done = status.get("error") or status.get("ended")
            if done or float(status.get("currentTime") or 0) >= min_time:
                return status
            if time.monotonic() >= deadline:
                return status
            page.wait_for_timeout(200)

    def close(self) -> None:
        try:
            if self.browser.is_connected():
                self.browser.close()
        finally:
            self._stack.close()


_session: PlayerSession | None = None


def player_session() -> PlayerSession:
    """The process-wide session, started on first use and closed at exit."""
    global _session
    if _session is None:
        _session = PlayerSession()
        atexit.register(close_player_session)
    return _session


def close_player_session() -> None:
    global _session
    if _session is not None:
        session, _session = _session, None
        session.close()


def play(url: str, player: Player, **options: Any) -> PlayResult:
    """Play url in the shared headless Chromium; `options` and defaults as PlayerSession.play's."""
    return player_session().play(url, player, **options)


@pytest.fixture(scope="session")
def browser() -> Iterator[PlayerSession]:
    """Session-wide player browser. Skips locally when setup has not run; fails in CI."""
    missing = missing_requirements()
    require(not missing, "player harness: " + ", ".join(missing), "run scripts/setup.sh")
    yield player_session()
    close_player_session()


@pytest.fixture(scope="module")
def chromium_page() -> Iterator[Any]:
    """A page of its own in the shared headless Chromium, for pages that are not players (the
    console). Shared: playwright's sync API allows one instance per thread."""
    missing = [m for m in missing_requirements() if m == CHROMIUM or m.startswith("python ")]
    require(not missing, ", ".join(missing), "run scripts/setup.sh")
    context = player_session().browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
