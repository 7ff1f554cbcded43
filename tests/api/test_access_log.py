"""Access logs never carry credentials: the redaction rules, the real uvicorn access log of the
app (session credential, CDN token, bearer token in the request), and the logging config
`vod catalogue serve` hands uvicorn."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api import access_log
from api.app import CATALOGUE_ONLY, create_app
from tests.support.auth import DevAuth
from tests.support.subscriber_db import running

SECRETS = ("SECRET123", "SECRET456", "SECRET789")


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        ('GET /playback/v1/sessions/s1/license?auth=SECRET123 HTTP/1.1" 200',
         "license?auth=[redacted] HTTP/1.1", "SECRET123"),
        ("/t/master.m3u8?lang=en&hdnts=exp=1~acl=/*~hmac=ab12&x=1",
         "?lang=en&hdnts=[redacted]&x=1", "hmac=ab12"),
        ("/cb?code=1&access_token=eyJabc.def&Token=zz",
         "code=1&access_token=[redacted]&Token=[redacted]", "eyJabc"),
        ("/x?%61uth=SECRET123", "%61uth=[redacted]", "SECRET123"),
        ("/__token__/exp=9~hmac=SECRET456/sample/master.m3u8",
         "/__token__/[redacted]/sample/master.m3u8", "SECRET456"),
        ("headers: {'authorization': 'Bearer SECRET789abc'}", "'authorization': '[redacted]'",
         "SECRET789"),
        ("retrying with Bearer eyJhbGciOiJFUzI1NiJ9.SECRET789", "Bearer [redacted]", "SECRET789"),
        ("/catalogue?territory=GB&authority=me&author=x", "authority=me&author=x", "[redacted]"),
    ],
)  # fmt: skip
def test_redact(line: str, kept: str, gone: str) -> None:
    out = access_log.redact(line)
    assert kept in out
    assert gone not in out


def test_filter_rewrites_the_arguments_uvicorn_formats() -> None:
    args = ("127.0.0.1:5", "GET", "/k?auth=SECRET123", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert access_log.RedactFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /k?auth=[redacted] HTTP/1.1" 200'
    assert record.args[-1] == 200  # non-strings untouched (uvicorn's formatter needs the int)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged_server(tmp_path: Path, dev_auth: DevAuth) -> Iterator[tuple[str, Capture, FastAPI]]:
    """The app on a real uvicorn with its access log on (INFO), captured from `uvicorn.access`
    (log_config=None: uvicorn leaves the loggers as set here)."""
    app = create_app(f"sqlite:///{tmp_path / 'vod.db'}", routers=CATALOGUE_ONLY,
                     auth=dev_auth.verifier())  # fmt: skip
    capture = Capture()
    logger = logging.getLogger("uvicorn.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(capture)
    try:
        with running(app, log_config=None, log_level="info", access_log=True) as url:
            yield url, capture, app
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        app.state.engine.dispose()


def test_real_access_log_has_no_credentials(
    logged_server: tuple[str, Capture, FastAPI], operator_headers: dict[str, str]
) -> None:
    base, capture, _ = logged_server
    bearer = {"Authorization": "Bearer SECRET789"}
    with httpx.Client(base_url=base) as http:
        http.get("/catalogue?territory=GB&auth=SECRET123", headers=operator_headers)
        http.post("/playback/v1/sessions/abcdefgh/license?auth=SECRET123&x=1", content=b"{}")
        http.get("/__token__/exp=1~hmac=SECRET456/sample/master.m3u8", headers=bearer)
    deadline = time.monotonic() + 5
    while len(capture.lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    text = "\n".join(capture.lines)
    assert len(capture.lines) >= 3, text
    assert not [s for s in SECRETS if s in text], text
    assert "/catalogue?territory=GB&auth=[redacted]" in text
    assert "/license?auth=[redacted]&x=1" in text
    assert "/__token__/[redacted]/sample/master.m3u8" in text


def test_serve_log_config_filters_every_handler_and_the_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `vod catalogue serve` gives uvicorn: records from any logger, even one without the
    app's logger-level filter, are redacted by the handlers that write them."""
    for name in ("uvicorn.access", "uvicorn.error"):  # only the config's filters this time
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    uvicorn.Config(FastAPI(), log_config=access_log.log_config(), log_level="info")
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access")]
    handlers = [h for lg in [*uvicorn_loggers, root] for h in lg.handlers]
    assert handlers
    assert all(any(isinstance(f, access_log.RedactFilter) for f in h.filters) for h in handlers)
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "c", "GET", "/x?hdnts=SECRET456", "1.1", 200)
    logging.getLogger("api.example").warning("refused /k?token=SECRET123")
    out = capsys.readouterr()
    assert "hdnts=[redacted]" in out.out and "token=[redacted]" in out.err
    assert "SECRET" not in out.out + out.err
