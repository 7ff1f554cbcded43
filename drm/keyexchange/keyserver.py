"""`vod keyserver`: a small CPIX (SPEKE v2-style) key server and ClearKey licence endpoint.

KID semantics: the key store owns the KIDs. Keys live per (CPIX contentId, label) in the
LocalKeyStore, so asking again for a title returns the same keys however often it is
packaged. The KIDs a client puts in its request are placeholders that say which labels it
wants: the answer carries the store's KID for each requested label (clients map keys back by
intendedTrackType, as drm.keyexchange.speke.SpekeClient does). Encryptors that insist on
their own KIDs
(strict SPEKE v2, e.g. AWS MediaPackage) are not supported by this server.

Endpoints:
  POST /speke/v2/copyProtection, POST /cpix   CPIX request in, CPIX response out (auth)
  POST /clearkey/license (and /license/clearkey)  W3C ClearKey JSON, CORS, no auth: a
       browser fetches it, so anyone who can read a manifest can get the keys - dev/test only.
  GET /healthz

Bad input never gives a 500: malformed or hostile CPIX is a 400 naming the cause, a body over
1 MiB a 413, a missing or wrong credential a 401. Content keys are never logged.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, cast

from drm.keyexchange.cpix import (
    SYSTEM_IDS,
    SYSTEM_NAMES,
    CpixDocument,
    CpixError,
    Scheme,
    build_response,
    parse_request,
)
from drm.keys import LABELS, ContentKey, DrmError, kid_uuid
from drm.keystore import KeyStoreError
from drm.signalling.clearkey import (
    CLEARKEY_LICENSE_PATH,
    ClearKeyRequestError,
    license_response,
    requested_kids,
)
from drm.signalling.pssh import system_pssh_boxes

__all__ = [
    "CPIX_PATHS",
    "LICENSE_PATHS",
    "MAX_BODY_BYTES",
    "KeyServer",
    "KeySource",
    "make_keyserver",
    "serve_keyserver",
]

log = logging.getLogger(__name__)

CPIX_PATHS = ("/speke/v2/copyProtection", "/cpix")
LICENSE_PATHS = ("/clearkey/license", CLEARKEY_LICENSE_PATH)
MAX_BODY_BYTES = 1 << 20  # a CPIX request for four labels is a few KiB
MAX_CONTENT_ID = 256
SOCKET_TIMEOUT_S = 30.0  # a client that stalls mid-request does not hold a thread forever
SPEKE_VERSION = "2.0"
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


class KeySource(Protocol):
    """What the server needs from a key store (LocalKeyStore implements it)."""

    def keys_for(self, title_id: str, labels: Sequence[str]) -> dict[str, ContentKey]: ...

    def key_for_kid(self, kid: bytes) -> ContentKey | None: ...


class _BadRequest(Exception):
    """Input the client must fix; the message goes back in the 400 body."""


class KeyServer(ThreadingHTTPServer):
    """The HTTP server, holding the key store and the accepted credentials."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        store: KeySource,
        *,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
    ):
        self.store = store
        self.token = token
        self.basic = basic
        super().__init__(address, KeyServerHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def auth_required(self) -> bool:
        return self.token is not None or self.basic is not None

    def authorized(self, header: str | None) -> bool:
        """Constant-time check of an Authorization header against the configured credentials."""
        if not self.auth_required:
            return True
        scheme, _, value = (header or "").strip().partition(" ")
        value = value.strip()
        if self.token is not None and scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self.token.encode())
        if self.basic is not None and scheme.lower() == "basic":
            want = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return hmac.compare_digest(value.encode(), want.encode())
        return False

    def challenge(self) -> str:
        if self.token is not None:
            return 'Bearer realm="vod-keyserver"'
        return 'Basic realm="vod-keyserver", charset="UTF-8"'


def make_keyserver(
    store: KeySource,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    basic: tuple[str, str] | None = None,
) -> KeyServer:
    """A bound, not yet serving key server (port 0 picks a free port; see `.url`)."""
    if token is not None and not token:
        raise DrmError("key server token must not be empty")
    if basic is not None and (not basic[0] or not basic[1]):
        raise DrmError("key server basic auth needs a user and a password")
    return KeyServer((host, port), store, token=token, basic=basic)


def serve_keyserver(
    store: KeySource,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    basic: tuple[str, str] | None = None,
    ready: Callable[[KeyServer], None] | None = None,
) -> None:
    """Serve until interrupted; `ready(server)` runs once bound (e.g. to print the URL)."""
    server = make_keyserver(store, host, port, token=token, basic=basic)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class KeyServerHandler(BaseHTTPRequestHandler):
    """Routes the CPIX and ClearKey endpoints; every response carries a Content-Length."""

    server: KeyServer
    protocol_version = "HTTP/1.1"
    server_version = "vod-keyserver"
    timeout = SOCKET_TIMEOUT_S

    def log_message(self, format: str, *args: object) -> None:
        # Request line and status only; bodies (which carry keys) are never logged.
        log.debug("%s %s", self.address_string(), format % args)

    # -- routing ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self._path() == "/healthz":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        else:
            self._fail(HTTPStatus.METHOD_NOT_ALLOWED, "use POST", allow="POST")

    def do_OPTIONS(self) -> None:
        if self._path() in LICENSE_PATHS:
            self._send(HTTPStatus.NO_CONTENT, b"", None, cors=True)
        else:
            self._fail(HTTPStatus.METHOD_NOT_ALLOWED, "use POST", allow="POST")

    def do_POST(self) -> None:
        path = self._path()
        cors = path in LICENSE_PATHS
        if path not in CPIX_PATHS and not cors:
            self._close_after()
            self._fail(HTTPStatus.NOT_FOUND, f"no endpoint {path}")
            return
        if path in CPIX_PATHS and not self.server.authorized(self.headers.get("Authorization")):
            self._close_after()
            self._fail(
                HTTPStatus.UNAUTHORIZED,
                "missing or wrong credentials",
                extra={"WWW-Authenticate": self.server.challenge()},
            )
            return
        body = self._read_body(cors)
        if body is None:
            return
        try:
            if cors:
                self._license(body)
            else:
                self._cpix(body)
        except (_BadRequest, CpixError, ClearKeyRequestError) as exc:
            cause = exc.one_line() if isinstance(exc, CpixError) else _cause(exc)
            log.info("%s %s: rejected: %s", self.command, path, cause)
            self._fail(HTTPStatus.BAD_REQUEST, cause, cors=cors)
        except KeyStoreError as exc:
            log.error("key store error: %s", exc.one_line())
            self._fail(HTTPStatus.SERVICE_UNAVAILABLE, "key store unavailable", cors=cors)
        except DrmError as exc:  # input the store refused (label, title id)
            self._fail(HTTPStatus.BAD_REQUEST, exc.one_line(), cors=cors)
        except Exception:
            log.exception("key server: unexpected error on %s", path)
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error", cors=cors)

    # -- endpoints -------------------------------------------------------------------------
    def _cpix(self, body: bytes) -> None:
        request = parse_request(body)
        content_id = _content_id(request)
        labels = _labels(request)
        scheme = _scheme(request)
        systems = _systems(request)
        keys = self.server.store.keys_for(content_id, labels)

        def pssh_for(system: str, key: ContentKey) -> bytes | None:
            return system_pssh_boxes([system], scheme, key.kid, key=key.key).get(system)

        answer = build_response(content_id, keys, cast(Scheme, scheme), systems, pssh_for)
        kids = ", ".join(f"{lb}={kid_uuid(k.kid)}" for lb, k in keys.items())
        log.info("CPIX %s (%s, %s): %s", content_id, scheme, ",".join(systems) or "-", kids)
        self._send(
            HTTPStatus.OK,
            answer,
            "application/xml",
            extra={"X-Speke-Version": SPEKE_VERSION, "Cache-Control": "no-store"},
        )

    def _license(self, body: bytes) -> None:
        keys: dict[bytes, bytes] = {}
        for kid in requested_kids(body):
            found = self.server.store.key_for_kid(kid)
            if found is not None:
                keys[kid] = found.key
        answer = license_response(body, keys)
        status = HTTPStatus.OK if keys else HTTPStatus.NOT_FOUND
        log.info("ClearKey licence: %d key(s): %s", len(keys), ", ".join(map(kid_uuid, keys)))
        self._send(
            status,
            json.dumps(answer).encode(),
            "application/json",
            cors=True,
            extra={"Cache-Control": "no-store"},
        )

    # -- plumbing --------------------------------------------------------------------------
    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _read_body(self, cors: bool) -> bytes | None:
        """The request body, or None after answering 400/411/413 (the body is never read then)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._fail(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length", cors=cors)
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._fail(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length", cors=cors)
            return None
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._fail(HTTPStatus.BAD_REQUEST, "bad Content-Length", cors=cors)
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            msg = f"request body is {length} bytes, over the {MAX_BODY_BYTES} byte limit"
            self._fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, msg, cors=cors)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            self._fail(HTTPStatus.BAD_REQUEST, "request body ended early", cors=cors)
            return None
        return body

    def _close_after(self) -> None:
        """Answering without reading the body: drop keep-alive so it cannot be misparsed."""
        self.close_connection = True

    def _fail(
        self,
        status: HTTPStatus,
        message: str,
        *,
        cors: bool = False,
        allow: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        headers = dict(extra or {})
        if allow:
            headers["Allow"] = allow
        body = f"{status.value} {status.phrase}: {message}\n".encode()
        self._send(status, body, "text/plain; charset=utf-8", cors=cors, extra=headers)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str | None,
        *,
        cors: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**(_CORS if cors else {}), **(extra or {})}.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)


# -- reading a CPIX request ----------------------------------------------------------------


def _cause(exc: Exception) -> str:
    return getattr(exc, "cause", None) or str(exc)


def _content_id(request: CpixDocument) -> str:
    cid = (request.content_id or "").strip()
    if not cid:
        raise _BadRequest("the CPIX request needs a contentId (the title the keys belong to)")
    if len(cid) > MAX_CONTENT_ID or not cid.isprintable():
        raise _BadRequest(f"contentId must be printable and at most {MAX_CONTENT_ID} characters")
    return cid


def _labels(request: CpixDocument) -> list[str]:
    """One of AUDIO/SD/HD/UHD per requested KID; combined labels need one key per label."""
    if not request.kids:
        raise _BadRequest("the CPIX request has no ContentKey")
    out: list[str] = []
    for kid in request.kids:
        found = request.labels_for(kid)
        if len(found) != 1 or found[0] not in LABELS:
            got = ", ".join(found) or "none"
            raise _BadRequest(
                f"KID {kid_uuid(kid)} has intendedTrackType {got}; this server keeps one key "
                f"per label and needs exactly one of {', '.join(LABELS)} per ContentKey"
            )
        out.append(found[0])
    return out


def _scheme(request: CpixDocument) -> str:
    asked = {s for s in request.schemes.values() if s}
    if len(asked) > 1:
        raise _BadRequest(f"mixed commonEncryptionScheme values {sorted(asked)}; use one")
    return asked.pop() if asked else "cenc"


def _systems(request: CpixDocument) -> list[str]:
    out: list[str] = []
    for per_kid in request.drm.values():
        for system_id in per_kid:
            name = SYSTEM_NAMES.get(system_id)
            if name is None:
                raise _BadRequest(f"DRM system {system_id} is not supported by this server")
            if name not in out:
                out.append(name)
    if not out:  # CPIX needs a DRMSystem per key; there is nothing to answer without one
        raise _BadRequest(
            f"the CPIX request names no DRMSystem; ask for one of {', '.join(SYSTEM_IDS)}"
        )
    return out
