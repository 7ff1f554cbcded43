"""Access logs without credentials: a logging filter that redacts them before any handler runs.

Players put their session credential in the licence URL (`?auth=`), CDN tokens travel as
`?hdnts=` or a `/__token__/<token>/` path prefix, and OAuth clients send bearer tokens. A log
line is read by more people and kept longer than the token lives, so every record passing the
filter has those values replaced by `[redacted]` (its message and its string arguments; uvicorn's
access formatter reads the arguments). `install()` puts the filter on uvicorn's loggers (the app
does this, whoever serves it); `log_config()` is uvicorn's logging config with the filter on
every handler, for the commands that start uvicorn themselves.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
SECRET_PARAMS = frozenset({"auth", "hdnts", "token", "access_token", "id_token", "refresh_token"})
LOGGERS = ("uvicorn.access", "uvicorn.error")

_QUERY_PAIR = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;?\s\"'#]+)=(?P<value>[^&;\s\"'#]*)")
_PATH_TOKEN = re.compile(r"(/__token__/)[^/\s\"'?#]+", re.IGNORECASE)
_AUTH_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+", re.IGNORECASE
)
_BEARER = re.compile(r"\b(?P<scheme>bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def _pair(m: re.Match[str]) -> str:
    if unquote_plus(m["name"]).strip().lower() in SECRET_PARAMS:
        return f"{m['lead']}{m['name']}={REDACTED}"
    return m[0]


def redact(text: str) -> str:
    """`text` with credential query values, path tokens and Authorization values replaced."""
    if not text:
        return text
    text = _QUERY_PAIR.sub(_pair, text)
    text = _PATH_TOKEN.sub(rf"\1{REDACTED}", text)
    text = _AUTH_HEADER.sub(rf"\g<name>{REDACTED}", text)
    return _BEARER.sub(rf"\g<scheme> {REDACTED}", text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactFilter(logging.Filter):
    """Rewrites each record in place (so every later handler sees the redacted form); never
    drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


def install(loggers: tuple[str, ...] = LOGGERS) -> None:
    """The filter on uvicorn's loggers, once (uvicorn's dictConfig keeps existing filters)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())


def log_config() -> dict[str, Any]:
    """uvicorn's default logging config with the filter on every handler, and the root logger
    (where our own modules' warnings and errors go) writing through the filtered default
    handler instead of Python's unfiltered last-resort one."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_credentials"] = {"()": RedactFilter}
    for handler in config.get("handlers", {}).values():
        handler.setdefault("filters", []).append("redact_credentials")
    config.setdefault("root", {"handlers": ["default"], "level": "WARNING"})
    return config
