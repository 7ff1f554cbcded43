"""Read a title's files from a local directory or over http(s), with the same rules for both.

Every location is an absolute URL string (`file:///...` for local files) so relative URIs from
manifests resolve with `urljoin` the same way a player would resolve them. What may be read is
fixed by the target: a local title reads local files under its root directory only, a remote
title reads http(s) URLs only (a hostile manifest cannot make us read `/etc/passwd` or follow
a redirect to `file:`). Nothing here follows proxies' or servers' ideas of other schemes.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

MAX_TEXT_BYTES = 16 * 1024 * 1024  # a manifest or WebVTT larger than this is not sane
MAX_MEDIA_BYTES = 2 * 1024 * 1024 * 1024
HTTP_TIMEOUT = 30.0
USER_AGENT = "vod-pipeline-validate/0.1"


class FetchError(Exception):
    """`kind`: 'missing' (404 / no such file), 'refused' (not allowed), 'error' (anything else)."""

    def __init__(self, uri: str, kind: str, message: str):
        self.uri = uri
        self.kind = kind
        super().__init__(message)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to {scheme}: refused", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    """An opener that can only speak http(s): no file:, ftp: or data: handlers."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    opener.addheaders = [("User-Agent", USER_AGENT)]
    return opener


def is_url(target: str) -> bool:
    return urllib.parse.urlsplit(target).scheme.lower() in ("http", "https")


def to_url(target: str | Path) -> str:
    """An absolute URL for a local path or an http(s) URL (directories end with '/')."""
    text = str(target)
    if is_url(text):
        return text
    path = Path(text).expanduser().resolve()
    url = path.as_uri()
    return url + "/" if path.is_dir() and not url.endswith("/") else url


def resolve(base: str, ref: str) -> str:
    """`ref` (as written in a manifest) against the URL of the file that contains it."""
    return urllib.parse.urljoin(base, ref.strip())


def parent(url: str) -> str:
    return urllib.parse.urljoin(url, ".")


class Fetcher:
    """Reads bytes; small files (manifests, init segments) are cached, media is not.

    `root` is the directory URL of the title: local reads must stay inside it.
    """

    def __init__(self, root: str, *, timeout: float = HTTP_TIMEOUT):
        self.root = root
        self.remote = is_url(root)
        self.timeout = timeout
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._opener = _opener() if self.remote else None
        if not self.remote:
            self._root_path = Path(self._local_path(root)).resolve()

    # -- policy -------------------------------------------------------------------------
    def check(self, uri: str) -> None:
        """Raise FetchError('refused') for a URI this title may not make us read."""
        scheme = urllib.parse.urlsplit(uri).scheme.lower()
        if self.remote:
            if scheme not in ("http", "https"):
                raise FetchError(uri, "refused", f"{scheme or 'relative'} URI in a remote title")
            return
        if scheme != "file":
            raise FetchError(uri, "refused", f"{scheme or 'relative'} URI in a local title")
        path = Path(self._local_path(uri)).resolve()
        if path != self._root_path and self._root_path not in path.parents:
            raise FetchError(uri, "refused", "points outside the title directory")

    @staticmethod
    def _local_path(uri: str) -> str:
        parts = urllib.parse.urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(uri, "refused", f"file URI on host {parts.netloc!r}")
        return urllib.request.url2pathname(parts.path)

    # -- reading ------------------------------------------------------------------------
    def get(self, uri: str, *, cache: bool = False, limit: int = MAX_MEDIA_BYTES) -> bytes:
        with self._lock:
            hit = self._cache.get(uri)
        if hit is not None:
            return hit
        self.check(uri)
        data = self._get_remote(uri, limit) if self.remote else self._get_local(uri, limit)
        if cache:
            with self._lock:
                self._cache[uri] = data
        return data

    def text(self, uri: str) -> str:
        data = self.get(uri, cache=True, limit=MAX_TEXT_BYTES)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise FetchError(uri, "error", f"not UTF-8 text ({e.reason})") from None

    def _get_local(self, uri: str, limit: int) -> bytes:
        path = Path(self._local_path(uri))
        try:
            if not path.is_file():
                raise FetchError(uri, "missing", "no such file")
            if path.stat().st_size > limit:
                raise FetchError(uri, "error", f"larger than {limit} bytes")
            return path.read_bytes()
        except OSError as e:
            raise FetchError(uri, "error", f"cannot read: {e.strerror or e}") from None

    def _get_remote(self, uri: str, limit: int) -> bytes:
        assert self._opener is not None
        try:
            with self._opener.open(uri, timeout=self.timeout) as resp:
                data = resp.read(limit + 1)
        except urllib.error.HTTPError as e:
            kind = "missing" if e.code in (404, 410) else "error"
            raise FetchError(uri, kind, f"HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise FetchError(uri, "error", f"cannot fetch: {reason}") from None
        if len(data) > limit:
            raise FetchError(uri, "error", f"larger than {limit} bytes")
        return data

    def exists(self, uri: str) -> bool:
        """Whether `uri` can be read (used to find which manifests a title directory has)."""
        try:
            self.get(uri, cache=True, limit=MAX_TEXT_BYTES)
        except FetchError:
            return False
        return True

    def display(self, uri: str) -> str:
        """`uri` relative to the title root when inside it, else the URI itself."""
        if uri.startswith(self.root):
            rest = uri[len(self.root) :]
            if not rest:
                return uri if self.remote else "."
            return rest if self.remote else urllib.parse.unquote(rest)
        if not self.remote and uri.startswith("file:"):
            return self._local_path(uri)
        return uri
