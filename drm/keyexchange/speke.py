"""SpekeClient: content keys from a CPIX / SPEKE v2 key server, as a KeyProvider.

One POST per title asks for a key per label (AUDIO / SD / HD / UHD). Keys are matched back by
label (intendedTrackType), not by KID: key servers such as our own `vod keyserver` own the
KIDs and may answer with other KIDs than the random placeholders we send. Transient failures
(connection errors, timeouts, 5xx, 429) are retried with exponential backoff; a 4xx is the
operator's to fix and fails at once. Each attempt has a total deadline of `timeout` seconds,
not just a per-read one. Errors name the URL (without credentials) and status, never a key,
and their category says what to do: `Transient` (no answer, 5xx, 429: try again later),
`Refused` (401/403: fix the credentials), `BadInput` (any other answer we cannot use).
"""

from __future__ import annotations

import base64
import http.client
import secrets
import ssl
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from core.errors import BadInput, Refused, Transient, VodError
from drm.keyexchange.cpix import (
    SCHEMES,
    CpixDocument,
    CpixError,
    Scheme,
    build_request,
    parse_response,
)
from drm.keys import LABELS, ContentKey, DrmError

__all__ = [
    "SpekeClient",
    "KeyServerError",
    "KeyServerUnavailable",
    "KeyServerRefused",
    "KeyServerBadAnswer",
    "key_server_error",
    "MAX_RESPONSE_BYTES",
]

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_MAX_MESSAGE = 300  # characters of a server's error body quoted in our error
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0
_REFUSED_STATUSES = frozenset({401, 403})
DEFAULT_SYSTEMS = ("widevine", "playready", "clearkey")


class KeyServerError(VodError):
    """The key server refused or failed; `server_status` is its HTTP status (None: no answer).

    Raised as one of the three subclasses below (`key_server_error` picks it), so callers can
    act on the category; `status` stays the HTTP status of our own problem answer.
    """

    def __init__(self, cause: str, url: str, server_status: int | None = None):
        self.server_status = server_status
        super().__init__(url, cause, stage="drm")


class KeyServerUnavailable(KeyServerError, Transient):
    """No answer, a 5xx or a 429: the same request may succeed later."""

    default_reason = "key_server_unavailable"


class KeyServerRefused(KeyServerError, Refused):
    """401/403: the key server does not accept our credentials."""

    default_reason = "key_server_refused"


class KeyServerBadAnswer(KeyServerError, BadInput):
    """Any other answer we cannot use (4xx, an invalid document, an untrusted certificate)."""

    default_reason = "key_server_bad_answer"


def key_server_error(cause: str, url: str, server_status: int | None) -> KeyServerError:
    """The KeyServerError whose category fits the key server's answer."""
    if server_status is None or server_status in _RETRY_STATUSES or server_status >= 500:
        return KeyServerUnavailable(cause, url, server_status)
    if server_status in _REFUSED_STATUSES:
        return KeyServerRefused(cause, url, server_status)
    return KeyServerBadAnswer(cause, url, server_status)


class SpekeClient:
    """KeyProvider over HTTP(S): `keys_for(title_id, labels)` POSTs one CPIX request."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        scheme: Scheme = "cbcs",
        systems: Sequence[str] = DEFAULT_SYSTEMS,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DrmError(f"key server URL must be http(s)://host/path, got {_safe_url(url)!r}")
        if token is not None and basic is not None:
            raise DrmError("give the key server a bearer token or basic auth, not both")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise DrmError("key server timeout must be > 0, retries and backoff >= 0")
        if scheme not in SCHEMES:
            raise DrmError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        self.url = url
        self.safe_url = _safe_url(url)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.scheme: Scheme = scheme
        self.systems = tuple(systems)
        self._auth = _auth_header(token, basic)
        self._lock = threading.Lock()
        self._documents: dict[str, CpixDocument] = {}
        self.last_document: CpixDocument | None = None

    def __repr__(self) -> str:
        return f"SpekeClient({self.safe_url!r}, scheme={self.scheme!r})"

    # -- KeyProvider -----------------------------------------------------------------------
    def keys_for(self, title_id: str, labels: Sequence[str]) -> dict[str, ContentKey]:
        """One key per label for a title; every requested label must be in the answer."""
        wanted = list(dict.fromkeys(labels))
        if not wanted:
            raise DrmError("no key labels to ask the key server for")
        unknown = [lb for lb in wanted if lb not in LABELS]
        if unknown:
            raise DrmError(f"unknown key label(s) {', '.join(unknown)}; use {', '.join(LABELS)}")
        placeholders = {label: secrets.token_bytes(16) for label in wanted}
        try:
            body = build_request(title_id, placeholders, scheme=self.scheme, systems=self.systems)
        except CpixError as exc:
            raise DrmError(f"cannot build the CPIX request: {exc.cause}", self.safe_url) from None
        raw = self._post(body)
        try:
            doc = parse_response(raw, source=f"CPIX response from {self.safe_url}")
            keys = doc.keys_by_label()
        except CpixError as exc:
            raise KeyServerBadAnswer(exc.cause, self.safe_url, 200) from None
        if doc.content_id and doc.content_id != title_id:
            raise KeyServerBadAnswer(
                f"answered for contentId {doc.content_id!r}, not {title_id!r}", self.safe_url, 200
            )
        missing = [lb for lb in wanted if lb not in keys]
        if missing:
            raise KeyServerBadAnswer(
                f"the answer has no key for label(s) {', '.join(missing)}", self.safe_url, 200
            )
        with self._lock:
            self._documents[title_id] = doc
            self.last_document = doc
        return {label: keys[label] for label in wanted}

    # -- signalling from the answer ----------------------------------------------------------
    def document_for(self, title_id: str) -> CpixDocument | None:
        """The parsed CPIX answer of the last `keys_for(title_id, ...)`, if any."""
        with self._lock:
            return self._documents.get(title_id)

    def pssh_for_systems(self, title_id: str, label: str) -> dict[str, bytes]:
        """{system name: whole 'pssh' box} the key server sent for a label's KID.

        Empty when the server sent no PSSH (then build them with
        drm.signalling.pssh.system_pssh_boxes).
        """
        doc = self.document_for(title_id)
        if doc is None:
            raise DrmError(f"no keys fetched yet for {title_id!r} from {self.safe_url}")
        key = doc.keys_by_label().get(label)
        if key is None:
            return {}
        out: dict[str, bytes] = {}
        for signalling in doc.drm.get(key.kid, {}).values():
            if signalling.pssh and signalling.system:
                out[signalling.system] = base64.b64decode(signalling.pssh)
        return out

    # -- HTTP ------------------------------------------------------------------------------
    def _post(self, body: bytes) -> bytes:
        """POST with retries on transient failures; the response body on 200."""
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                status, reason, data = self._once(body)
            except ssl.SSLCertVerificationError as exc:  # retrying cannot fix a certificate
                raise KeyServerBadAnswer(f"TLS certificate refused: {exc}", self.safe_url) from None
            except (OSError, http.client.HTTPException) as exc:
                problem = f"no answer ({_describe(exc)})"
                if attempt < attempts:
                    self._sleep(attempt)
                    continue
                raise KeyServerUnavailable(
                    f"{problem} after {attempts} attempt(s)", self.safe_url
                ) from None
            if status == 200:
                return data
            message = _server_message(data)
            problem = f"HTTP {status} {reason}" + (f": {message}" if message else "")
            if status in _RETRY_STATUSES and attempt < attempts:
                self._sleep(attempt)
                continue
            tries = f" after {attempt} attempt(s)" if status in _RETRY_STATUSES else ""
            raise key_server_error(f"key server answered {problem}{tries}", self.safe_url, status)
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self.backoff * (2 ** (attempt - 1)), _MAX_BACKOFF_S))

    def _once(self, body: bytes) -> tuple[int, str, bytes]:
        """One request with a total deadline of `timeout` seconds."""
        parts = urlsplit(self.url)
        deadline = time.monotonic() + self.timeout
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "",
                parts.port,
                timeout=self.timeout,
                context=ssl.create_default_context(),
            )
        else:
            conn = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=self.timeout
            )
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        headers = {
            "Content-Type": "application/xml",
            "Accept": "application/xml",
            "X-Speke-Version": "2.0",
            "Content-Length": str(len(body)),
        }
        if self._auth:
            headers["Authorization"] = self._auth
        try:
            conn.request("POST", path, body=body, headers=headers)
            _arm(conn, deadline)
            resp = conn.getresponse()
            data = _read_bounded(conn, resp, deadline)
            return resp.status, resp.reason, data
        finally:
            conn.close()


def _arm(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Shrink the socket timeout to what is left of the attempt's deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    if conn.sock is not None:
        conn.sock.settimeout(left)


def _read_bounded(
    conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, deadline: float
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        _arm(conn, deadline)
        chunk = resp.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise http.client.HTTPException(f"response over {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)


def _auth_header(token: str | None, basic: tuple[str, str] | None) -> str | None:
    if token is not None:
        if not token or any(c in token for c in "\r\n"):
            raise DrmError("key server token must be a non-empty single line")
        return f"Bearer {token}"
    if basic is not None:
        user, password = basic
        if ":" in user:
            raise DrmError("key server basic-auth user must not contain ':'")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return None


def _safe_url(url: str) -> str:
    """The URL without user:password@, for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<invalid URL>"


def _server_message(data: bytes) -> str:
    """A short single-line quote of an error body (it never carries keys on a non-200)."""
    text = " ".join(data[: _MAX_MESSAGE * 4].decode("utf-8", "replace").split())
    return text[:_MAX_MESSAGE] + ("..." if len(text) > _MAX_MESSAGE else "")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
