"""`vod serve DIR --gateway` (secret from VOD_TOKEN_SECRET or --token-secret-file): the CDN/origin
gateway in front of the titles.

Every title request needs an Akamai-style token (`playback.tokens`) signed with the secret, in a
`/__token__/<token>/` path prefix or a `hdnts` query parameter, else 403 naming why
(`token refused: expired`, ...). A playback-session token also carries the session's grant (its
signed `data`, `playback.grant`): the HLS master and DASH MPD are cut down to its renditions,
every HLS playlist keeps only the key lines of its KIDs with ClearKey key URIs pointing at the
session's key route on the API, and playlists and segments of any other rendition are refused
(`rendition_not_allowed`). The server's own pages (watch page, player libraries, titles list)
stay open; keys never come from here: the ClearKey endpoints of the development server answer
404, since keys are delivered only by the API's session licence proxy.
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from core.errors import PipelineError
from playback.grant import SessionGrant, decode_grant
from playback.manifest_filter import filter_hls_keys, filter_hls_master, filter_mpd, rendition_of
from playback.origin.devserver import (
    CLEARKEY_PATHS,
    LICENSE_PATH,
    MANIFEST_NAMES,
    DevHandler,
    is_open_path,
)
from playback.origin.files import content_type, resolve_inside
from playback.tokens import (
    TOKEN_PARAM,
    TokenError,
    acl_match,
    normalise_path,
    split_path_token,
    verify_token,
)

log = logging.getLogger(__name__)

NO_KEYS_HERE = (
    "the gateway serves no keys: keys are delivered only by the API's session licence proxy "
    "(the licence and key URLs of a playback session)"
)


def is_key_path(path: str) -> bool:
    """The development server's ClearKey endpoints, which the gateway never answers."""
    return path in CLEARKEY_PATHS or path.startswith(LICENSE_PATH + "/")


def title_relative(fields: dict[str, str], path: str) -> str:
    """The request path relative to the title the token's ACL covers (`/t/*` + `/t/v1/3.m4s`
    -> `v1/3.m4s`); for an exact-path ACL, the file name."""
    clean = normalise_path(path) or path
    glob = acl_match(fields["acl"], clean) or "/"
    return clean[len(glob.rstrip("*")) :] if glob.endswith("*") else clean.rsplit("/", 1)[-1]


def check_token(
    secret: bytes, token: str | None, path: str, now: float
) -> tuple[dict[str, str], str]:
    """(the token's fields, "") if it lets a request for `path` through, else ({}, reason)."""
    if token is None:
        return {}, "missing"
    try:
        return verify_token(secret, token, path, now), ""
    except TokenError as exc:
        return {}, exc.reason


class GatewayHandler(DevHandler):
    """The development server's handler with CDN tokens required on every title request and
    no key delivery."""

    def do_POST(self) -> None:
        self._drain_body()
        if is_key_path(urlsplit(self.path).path):
            self._error(HTTPStatus.NOT_FOUND, NO_KEYS_HERE)
        else:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED)

    def _get(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        token, path = split_path_token(url.path)
        if token is None and is_key_path(path):
            self._error(HTTPStatus.NOT_FOUND, NO_KEYS_HERE)
            return
        if token is None and is_open_path(path):
            self._send_open(path, send_body)
            return
        if token is None:
            token = parse_qs(url.query).get(TOKEN_PARAM, [None])[0]
        secret = self.server.token_secret
        assert secret is not None, "the gateway runs with a token secret"
        fields, reason = check_token(secret, token, path, time.time())
        if reason:
            self._error(HTTPStatus.FORBIDDEN, f"token refused: {reason}")
            return
        self._send_session_file(path, fields, send_body)

    def _send_session_file(self, path: str, fields: dict[str, str], send_body: bool) -> None:
        """A title file for a token holder. A playback-session token carries its grant
        (`data`): manifests are filtered to its renditions, every HLS playlist to its keys,
        and other renditions' playlists and segments are refused."""
        if "data" not in fields:
            self._send_from(self.server.root, path, send_body)
            return
        try:
            grant = decode_grant(fields["data"])
        except ValueError:
            self._error(HTTPStatus.FORBIDDEN, "token refused: malformed")
            return
        rel = title_relative(fields, path)
        name = rel.rsplit("/", 1)[-1]
        rendition = rendition_of(rel)
        if rendition is not None and rendition not in grant.renditions:
            self._error(HTTPStatus.FORBIDDEN, "token refused: rendition_not_allowed")
        elif name in MANIFEST_NAMES or name.endswith(".m3u8"):
            self._send_filtered(path, name, grant, send_body)
        else:
            self._send_from(self.server.root, path, send_body)

    def _send_filtered(self, path: str, name: str, grant: SessionGrant, send_body: bool) -> None:
        """A manifest or playlist as this session may see it (`manifest_filter`)."""
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
                body = filter_mpd(raw, grant.renditions, source=name)
            else:
                text = raw.decode("utf-8")
                if name in MANIFEST_NAMES:
                    text = filter_hls_master(text, grant.renditions)
                body = filter_hls_keys(text, grant).encode("utf-8")
        except (ValueError, PipelineError) as exc:  # not UTF-8, not safe XML
            log.warning("cannot filter %s: %s", target, exc)
            self._error(HTTPStatus.BAD_GATEWAY, "manifest could not be filtered")
            return
        self._send_bytes(body, content_type(target), send_body)
