"""Static files the way players need them, shared by the development server and the gateway.

Players need more than a plain file server: CORS (the page and the media may sit on different
origins), byte ranges (byte-range I-frame playlists, sidx-indexed DASH), exact Content-Types,
and no way out of the served root. Everything here is stdlib so the origin runs wherever the
packager does; a CDN serves production traffic.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

log = logging.getLogger(__name__)

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


class FileHandler(BaseHTTPRequestHandler):
    """CORS, OPTIONS preflights, files with ranges, bytes and plain-text errors."""

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


def _copy_exact(src: BinaryIO, dst: BinaryIO, length: int) -> None:
    """Copy exactly `length` bytes in chunks (a range must not run past its end)."""
    remaining = length
    while remaining > 0:
        chunk = src.read(min(_CHUNK, remaining))
        if not chunk:
            break
        dst.write(chunk)
        remaining -= len(chunk)


class QuietThreadingServer(ThreadingHTTPServer):
    """Threaded, IPv6-aware, and quiet about players hanging up mid-response."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """Players abort requests all the time (seeks, ABR switches): not worth a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address, exc)
        else:
            log.exception("error serving %s", client_address)


def base_url(server: ThreadingHTTPServer) -> str:
    """http://host:port of a bound server (IPv6 hosts bracketed)."""
    host, port = server.server_address[:2]
    host = str(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
