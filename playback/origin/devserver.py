"""`vod serve DIR`: the development and test origin. Titles under DIR, a watch page with the
npm players (shaka-player, hls.js, dash.js), the list of titles, and open ClearKey endpoints
(keys from a local key store, or echoed from the page) so encrypted titles play without a
licence server. Nothing here checks who asks, so with a key store it binds to loopback only
(`playback.origin.server`); the token gateway (`playback.origin.gateway`) puts CDN tokens in
front of the titles and serves no keys at all.
"""

from __future__ import annotations

import json
import os
import re
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from core.settings import settings
from drm.keystore import LocalKeyStore
from drm.signalling.clearkey import CLEARKEY_LICENSE_PATH as LICENSE_PATH
from drm.signalling.clearkey import license_response, requested_kids
from playback.origin.files import FileHandler, QuietThreadingServer

STATIC_DIR = Path(__file__).resolve().parent / "static"
REPO_WEB_MODULES = Path(__file__).resolve().parents[2] / "web" / "node_modules"
MANIFEST_NAMES = ("master.m3u8", "manifest.mpd")
ECHO_PATH = "/_clearkey"  # licences from keys the page itself passes (hls.js, tests)
CLEARKEY_PATHS = (LICENSE_PATH, ECHO_PATH)
TITLE_SCAN_DEPTH = 3

# URL name under /_player/lib/ -> file inside web/node_modules (npm package dist files).
PLAYER_LIBS: dict[str, str] = {
    "shaka-player.compiled.js": "shaka-player/dist/shaka-player.compiled.js",
    # Same player, unminified: shaka 5.2's minified build drops the CMCD `sta` key (play
    # states), so the page loads this one when asked to report CMCD.
    "shaka-player.debug.js": "shaka-player/dist/shaka-player.compiled.debug.js",
    "hls.min.js": "hls.js/dist/hls.min.js",
    "dash.all.min.js": "dashjs/dist/modern/umd/dash.all.min.js",
}

__all__ = [
    "CLEARKEY_PATHS", "ECHO_PATH", "LICENSE_PATH", "PLAYER_LIBS", "STATIC_DIR", "DevHandler",
    "OriginServer",
    "clearkey_license", "find_titles", "player_libs_dir",
]  # fmt: skip


def player_libs_dir() -> Path:
    """web/node_modules of the repo (editable install), or VOD_PLAYER_LIBS if set."""
    return settings().player_libs or REPO_WEB_MODULES


def find_titles(root: Path) -> list[dict[str, str | None]]:
    """Directories under root holding a master.m3u8 or manifest.mpd, as URL paths."""
    real_root = root.resolve()
    titles: list[dict[str, str | None]] = []
    for dirpath, dirnames, filenames in os.walk(real_root):
        here = Path(dirpath)
        rel = here.relative_to(real_root)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        if len(rel.parts) >= TITLE_SCAN_DEPTH:
            dirnames[:] = []
        found = {name: name in filenames for name in MANIFEST_NAMES}
        if rel.parts and any(found.values()):
            base = "/" + "/".join(rel.parts) + "/"
            titles.append(
                {
                    "id": rel.as_posix(),
                    "hls": base + "master.m3u8" if found["master.m3u8"] else None,
                    "dash": base + "manifest.mpd" if found["manifest.mpd"] else None,
                }
            )
    return sorted(titles, key=lambda t: str(t["id"]))


def clearkey_license(keys_param: str, request_body: bytes) -> dict[str, object]:
    """Answer a W3C ClearKey licence request from keys given in the URL (dev/test only).

    Players without inline clear-key support (hls.js) need a licence URL; this echoes
    back the keys the page itself was given, for the KIDs the CDM asked for.
    """
    keys = {}
    for pair in filter(None, keys_param.split(",")):
        kid_hex, _, key_hex = pair.partition(":")
        keys[bytes.fromhex(kid_hex.replace("-", ""))] = bytes.fromhex(key_hex)
    return license_response(request_body, keys)


def is_open_path(path: str) -> bool:
    """Paths of the server itself (no title): the player page, its assets, titles, licences."""
    return path in ("/", "/index.html", "/_titles") or path.startswith(
        ("/_player/", LICENSE_PATH + "/")
    )


class DevHandler(FileHandler):
    """GET/HEAD/OPTIONS over the title root, the player page and the player libraries; POST
    for the ClearKey licence endpoints."""

    server: OriginServer

    def do_HEAD(self) -> None:
        self._get(send_body=False)

    def do_GET(self) -> None:
        self._get(send_body=True)

    def _drain_body(self) -> bytes:
        """The request body (up to 1 MiB); a longer one closes the connection after replying,
        since its unread rest would poison keep-alive."""
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
            self.close_connection = True
        body = self.rfile.read(min(length, 1 << 20)) if length else b""
        if length > len(body):
            self.close_connection = True
        return body

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self._drain_body()
        try:
            if url.path == LICENSE_PATH:
                payload = self._store_license(body)
                if payload is None:
                    return
            elif url.path == ECHO_PATH:
                payload = clearkey_license(parse_qs(url.query).get("keys", [""])[0], body)
            else:
                self._error(HTTPStatus.METHOD_NOT_ALLOWED)
                return
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST)
            return
        self._send_bytes(json.dumps(payload).encode(), "application/json", True)

    def _store_license(self, body: bytes) -> dict[str, object] | None:
        """W3C ClearKey licence for the requested KIDs, from the key store (never logged)."""
        store = self.server.key_store
        if store is None:
            self._error(HTTPStatus.NOT_FOUND, "no key store: start vod serve with --key-store")
            return None
        keys = {}
        for kid in requested_kids(body):
            found = store.key_for_kid(kid)
            if found is not None:
                keys[kid] = found.key
        return license_response(body, keys)

    def _send_key(self, kid_hex: str, send_body: bool) -> None:
        """HLS "identity" key delivery: the raw 16-byte key of one KID (dev/test origin)."""
        store = self.server.key_store
        if store is None:
            self._error(HTTPStatus.NOT_FOUND, "no key store: start vod serve with --key-store")
            return
        if not re.fullmatch(r"[0-9a-fA-F]{32}", kid_hex):
            self._error(HTTPStatus.BAD_REQUEST)
            return
        found = store.key_for_kid(bytes.fromhex(kid_hex))
        if found is None:
            self._error(HTTPStatus.NOT_FOUND)
            return
        self._send_bytes(found.key, "application/octet-stream", send_body)

    def _get(self, send_body: bool) -> None:
        self._send_open(urlsplit(self.path).path, send_body)

    def _send_open(self, path: str, send_body: bool) -> None:
        """The server's own pages and, for any other path, the file under the title root."""
        if path in ("/", "/index.html"):
            self._send_file(STATIC_DIR / "player.html", send_body)
        elif path.startswith(LICENSE_PATH + "/"):
            self._send_key(path.removeprefix(LICENSE_PATH + "/"), send_body)
        elif path == "/_titles":
            body = json.dumps(find_titles(self.server.root), indent=1).encode()
            self._send_bytes(body, "application/json", send_body)
        elif path.startswith("/_player/lib/"):
            rel = PLAYER_LIBS.get(path.removeprefix("/_player/lib/"))
            lib = self.server.player_libs / rel if rel else None
            if lib is None or not lib.is_file():
                self._error(HTTPStatus.NOT_FOUND, "player library missing: run scripts/setup.sh")
                return
            self._send_file(lib, send_body)
        elif path.startswith("/_player/"):
            self._send_from(STATIC_DIR, path.removeprefix("/_player"), send_body)
        else:
            self._send_from(self.server.root, path, send_body)


class OriginServer(QuietThreadingServer):
    """Carries the title root, where the player libraries live, the optional key store and,
    for the gateway, the token secret."""

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        player_libs: Path,
        key_store: LocalKeyStore | None = None,
        token_secret: bytes | None = None,
        handler: type[DevHandler] = DevHandler,
    ) -> None:
        self.root = root.resolve()
        self.token_secret = token_secret
        self.player_libs = player_libs
        self.key_store = key_store
        super().__init__(address, handler)
