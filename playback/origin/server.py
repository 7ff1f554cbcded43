"""`vod serve`: a small static HTTP origin for packaged titles, plus a watch page.

Players need more than a plain file server: CORS (the page and the media may sit on
different origins), byte ranges (byte-range I-frame playlists, sidx-indexed DASH),
and exact Content-Types. Everything here is stdlib so the origin runs wherever the
packager does. It is a development and test origin; a CDN serves production traffic.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import re
import socket
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from core.errors import PipelineError
from drm.keystore import LocalKeyStore
from drm.signalling.clearkey import license_response, requested_kids
from drm.signalling.pssh import CLEARKEY_LICENSE_PATH as LICENSE_PATH
from playback.manifest_filter import (
    decode_renditions,
    filter_hls_master,
    filter_mpd,
    rendition_of,
)
from playback.tokens import (
    TOKEN_PARAM,
    TokenError,
    acl_match,
    normalise_path,
    split_path_token,
    verify_token,
)

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
REPO_WEB_MODULES = Path(__file__).resolve().parents[2] / "web" / "node_modules"
MANIFEST_NAMES = ("master.m3u8", "manifest.mpd")
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

CONTENT_TYPES: dict[str, str] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".cmfv": "video/mp4",
    ".m4a": "audio/mp4",
    ".cmfa": "audio/mp4",
    ".cmft": "application/mp4",
    ".ts": "video/mp2t",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".webvtt": "text/vtt",
    ".ttml": "application/ttml+xml",
    ".js": "application/javascript",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".xml": "application/xml",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".key": "application/octet-stream",
}

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, ETag",
}

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


def content_type(path: Path) -> str:
    """Media types players check: hls.js and Safari care about the m3u8 and mpd types."""
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """Parse a single `bytes=` range into inclusive (start, end).

    None means no usable range (serve the whole file, as RFC 9110 allows for
    multi-range or malformed headers); False means unsatisfiable (416).
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return False
        return (max(0, size - length), size - 1) if size else False
    start = int(first)
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if end >= start else None


def resolve_inside(root: Path, url_path: str) -> Path | None:
    """Map a URL path to a file under root, or None if it would leave root.

    The path is percent-decoded once; any `..`, `.`, backslash or NUL segment is
    refused, and the final real path (symlinks followed) must stay under root.
    """
    decoded = unquote(url_path)
    if "\x00" in decoded or "\\" in decoded:
        return None
    parts = [p for p in decoded.split("/") if p]
    if any(p in (".", "..") for p in parts):
        return None
    real_root = root.resolve()
    candidate = real_root.joinpath(*parts).resolve() if parts else real_root
    if candidate != real_root and not candidate.is_relative_to(real_root):
        return None
    return candidate


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


class OriginHandler(BaseHTTPRequestHandler):
    """GET/HEAD/OPTIONS over the title root, the player page and the player libraries."""

    server: OriginServer
    protocol_version = "HTTP/1.1"
    server_version = "vod-serve"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def end_headers(self) -> None:
        for name, value in CORS_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
        requested = self.headers.get("Access-Control-Request-Headers")
        self.send_header("Access-Control-Allow-Headers", requested or "Range, Content-Type")
        self.send_header("Access-Control-Max-Age", "86400")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._get(send_body=False)

    def do_GET(self) -> None:
        self._get(send_body=True)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)) if length else b""
        if length > len(body):
            self.close_connection = True  # unread body would poison keep-alive
        try:
            if url.path == LICENSE_PATH:
                payload = self._store_license(body)
                if payload is None:
                    return
            elif url.path == "/_clearkey":
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
        url = urlsplit(self.path)
        path = url.path
        if self.server.token_secret is not None:
            token, path = split_path_token(path)
            if token is not None or not self._is_open_path(path):
                if token is None:
                    token = parse_qs(url.query).get(TOKEN_PARAM, [None])[0]
                fields, reason = self._check_token(token, path)
                if fields is None:
                    self._error(HTTPStatus.FORBIDDEN, f"token refused: {reason}")
                    return
                self._send_session_file(path, fields, send_body)
                return
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

    @staticmethod
    def _is_open_path(path: str) -> bool:
        """Paths that need no CDN token: the player page, its assets, titles list, licences."""
        return path in ("/", "/index.html", "/_titles") or path.startswith(
            ("/_player/", LICENSE_PATH + "/")
        )

    def _check_token(self, token: str | None, path: str) -> tuple[dict[str, str] | None, str]:
        """(the token's fields, "") if it lets this request through, else (None, reason)."""
        secret = self.server.token_secret
        if token is None:
            return None, "missing"
        assert secret is not None
        try:
            return verify_token(secret, token, path, time.time()), ""
        except TokenError as exc:
            return None, exc.reason

    def _send_session_file(self, path: str, fields: dict[str, str], send_body: bool) -> None:
        """A title file for a token holder. A playback-session token names the renditions
        it may play (`data`): manifests are filtered to them and other renditions' playlists
        and segments are refused."""
        if "data" not in fields:
            self._send_from(self.server.root, path, send_body)
            return
        try:
            allowed = decode_renditions(fields["data"])
        except ValueError:
            self._error(HTTPStatus.FORBIDDEN, "token refused: malformed")
            return
        clean = normalise_path(path) or path
        glob = acl_match(fields["acl"], clean) or "/"
        rel = clean[len(glob.rstrip("*")) :] if glob.endswith("*") else clean.rsplit("/", 1)[-1]
        name = rel.rsplit("/", 1)[-1]
        if name in MANIFEST_NAMES:
            self._send_filtered(path, name, allowed, send_body)
            return
        rendition = rendition_of(rel)
        if rendition is not None and rendition not in allowed:
            self._error(HTTPStatus.FORBIDDEN, "token refused: rendition_not_allowed")
            return
        self._send_from(self.server.root, path, send_body)

    def _send_filtered(
        self, path: str, name: str, allowed: frozenset[str], send_body: bool
    ) -> None:
        target = resolve_inside(self.server.root, path)
        if target is None:
            self._error(HTTPStatus.FORBIDDEN)
            return
        try:
            raw = target.read_bytes()
        except OSError:
            self._error(HTTPStatus.NOT_FOUND)
            return
        try:
            if name.endswith(".mpd"):
                body = filter_mpd(raw, allowed, source=name)
            else:
                body = filter_hls_master(raw.decode("utf-8"), allowed).encode("utf-8")
        except (ValueError, PipelineError) as exc:  # not UTF-8, not safe XML
            log.warning("cannot filter %s: %s", target, exc)
            self._error(HTTPStatus.BAD_GATEWAY, "manifest could not be filtered")
            return
        self._send_bytes(body, content_type(target), send_body)

    def _send_from(self, base: Path, url_path: str, send_body: bool) -> None:
        target = resolve_inside(base, url_path)
        if target is None:
            self._error(HTTPStatus.FORBIDDEN)
        elif not target.is_file():
            self._error(HTTPStatus.NOT_FOUND)  # directories too: no listings
        else:
            self._send_file(target, send_body)

    def _send_file(self, path: Path, send_body: bool) -> None:
        try:
            handle = path.open("rb")
        except OSError:
            self._error(HTTPStatus.NOT_FOUND)
            return
        with handle:
            stat = os.fstat(handle.fileno())
            size = stat.st_size
            wanted = parse_range(self.headers.get("Range"), size)
            if wanted is False:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
            length = end - start + 1 if size else 0
            self.send_response(HTTPStatus.PARTIAL_CONTENT if wanted else HTTPStatus.OK)
            if wanted:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Type", content_type(path))
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
            self.send_header("ETag", f'"{stat.st_mtime_ns:x}-{size:x}"')
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if send_body and length:
                handle.seek(start)
                _copy_exact(handle, self.wfile, length)

    def _send_bytes(self, body: bytes, ctype: str, send_body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _error(self, status: HTTPStatus, message: str | None = None) -> None:
        body = (message or status.phrase).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _copy_exact(src, dst, length: int) -> None:  # type: ignore[no-untyped-def]
    """Copy exactly `length` bytes in chunks (a range must not run past its end)."""
    remaining = length
    while remaining > 0:
        chunk = src.read(min(_CHUNK, remaining))
        if not chunk:
            break
        dst.write(chunk)
        remaining -= len(chunk)


class OriginServer(ThreadingHTTPServer):
    """Threaded server carrying the title root and where the player libraries live."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        player_libs: Path,
        key_store: LocalKeyStore | None = None,
        token_secret: bytes | None = None,
    ) -> None:
        self.root = root.resolve()
        self.token_secret = token_secret
        self.player_libs = player_libs
        self.key_store = key_store
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, OriginHandler)

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """Players abort requests all the time (seeks, ABR switches): not worth a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address, exc)
        else:
            log.exception("error serving %s", client_address)


def player_libs_dir() -> Path:
    """web/node_modules of the repo (editable install), or VOD_PLAYER_LIBS if set."""
    override = os.environ.get("VOD_PLAYER_LIBS")
    return Path(override) if override else REPO_WEB_MODULES


def make_server(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    player_libs: Path | None = None,
    key_store: Path | None = None,
    token_secret: bytes | str | None = None,
) -> ThreadingHTTPServer:
    """Bind (port 0 picks a free one) without serving; callers run serve_forever().

    With `key_store`, POST /license/clearkey answers W3C ClearKey licence requests from it.
    With `token_secret`, every title request needs a valid CDN token (playback.tokens):
    in a `/__token__/<token>/` path prefix or a `hdnts` query parameter, else 403.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"origin root is not a directory: {root}")
    store = LocalKeyStore(key_store) if key_store is not None else None
    if isinstance(token_secret, str):
        token_secret = token_secret.encode()
    if token_secret is not None and not token_secret:
        raise ValueError("token secret must not be empty")
    libs = player_libs or player_libs_dir()
    return OriginServer((host, port), root, libs, store, token_secret)


def base_url(server: ThreadingHTTPServer) -> str:
    """http://host:port of a bound server (IPv6 hosts bracketed)."""
    host, port = server.server_address[:2]
    host = str(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    key_store: Path | None = None,
    token_secret: bytes | str | None = None,
) -> None:
    """Serve until Ctrl-C, printing the watch page and title URLs."""
    server = make_server(root, host, port, key_store=key_store, token_secret=token_secret)
    url = base_url(server)
    print(f"Serving {Path(root).resolve()} at {url}/")
    if key_store is not None:
        print(f"ClearKey licences: POST {url}{LICENSE_PATH} (keys from {key_store})")
    if token_secret:
        print("CDN tokens required: /__token__/<token>/<title>/... or ?hdnts=<token>")
    titles = find_titles(Path(root))
    for title in titles:
        print(f"  {title['id']}: {url}/?title={title['id']}&autoplay=1")
    if not titles:
        print("  (no titles yet: a title is a folder with master.m3u8 or manifest.mpd)")
    if not all((player_libs_dir() / rel).is_file() for rel in PLAYER_LIBS.values()):
        print("  player libraries missing: run scripts/setup.sh to install them")
    print(f"Watch page: {url}/   (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
