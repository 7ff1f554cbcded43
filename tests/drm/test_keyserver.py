"""The CPIX key server, the SPEKE client and `vod keys`, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import Refused, Transient
from drm.keyexchange.cpix import build_request, parse_response
from drm.keyexchange.keyserver import KeyServer, make_keyserver
from drm.keyexchange.speke import KeyServerError, SpekeClient
from drm.keys import ContentKey, DrmError
from drm.keystore import LocalKeyStore, default_store_path
from drm.signalling.clearkey import b64url, license_request
from vod.commands.drm import keys_group

TOKEN = "s3cret-token"
LABELS3 = ["AUDIO", "SD", "HD"]


def _start(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return thread


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keys.sqlite"


@pytest.fixture
def keyserver(store_path: Path) -> Iterator[KeyServer]:
    server = make_keyserver(LocalKeyStore(store_path), token=TOKEN)
    _start(server)
    yield server
    server.shutdown()
    server.server_close()


def _client(server: KeyServer, **kw: object) -> SpekeClient:
    kw.setdefault("token", TOKEN)
    kw.setdefault("backoff", 0.01)
    return SpekeClient(f"{server.url}/speke/v2/copyProtection", **kw)  # type: ignore[arg-type]


class Front:
    """A tiny server in front of another: counts POSTs, fails or stalls the first ones."""

    def __init__(self, target: str, *, fail: int = 0, status: int = 503, sleep: float = 0.0):
        self.target, self.fail, self.status, self.sleep = target, fail, status, sleep
        self.count = 0
        self.paths: list[str] = []
        self.wake = threading.Event()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # an XXE "fetch" would arrive here
                front.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                front.count += 1
                if front.sleep:  # stall past the client's timeout, then hang up
                    front.wake.wait(front.sleep)
                    self.close_connection = True
                    return
                if front.count <= front.fail:
                    self.send_response(front.status)
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                req = urllib.request.Request(
                    front.target + self.path, data=body, headers=dict(self.headers), method="POST"
                )
                try:
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        status, data = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Front:
        _start(self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wake.set()
        self.server.shutdown()
        self.server.server_close()


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _secrets(keys: dict[str, ContentKey]) -> list[str]:
    """Every spelling of the content keys that must never show up in logs or output."""
    out = []
    for k in keys.values():
        out += [k.key.hex(), base64.b64encode(k.key).decode(), b64url(k.key)]
    return out


# -- CPIX over HTTP ------------------------------------------------------------------------


def test_speke_client_gets_store_keys_idempotently(keyserver: KeyServer, store_path: Path) -> None:
    client = _client(keyserver)
    first = client.keys_for("title-1", LABELS3)
    assert sorted(first) == sorted(LABELS3)
    assert len({k.kid for k in first.values()}) == 3
    assert len({k.key for k in first.values()}) == 3

    again = client.keys_for("title-1", LABELS3)
    assert {lb: (k.kid, k.key) for lb, k in again.items()} == {
        lb: (k.kid, k.key) for lb, k in first.items()
    }
    direct = LocalKeyStore(store_path)
    for label, key in first.items():
        stored = direct.get("title-1", label)
        assert stored is not None and (stored.kid, stored.key) == (key.kid, key.key)
    assert direct.get("title-1", "UHD") is None  # only what was asked for

    other = client.keys_for("title-2", ["SD"])
    assert other["SD"].kid != first["SD"].kid


def test_response_carries_pssh_for_requested_systems(keyserver: KeyServer) -> None:
    client = _client(keyserver, scheme="cenc", systems=("widevine", "playready", "clearkey"))
    keys = client.keys_for("title-pssh", ["SD"])
    boxes = client.pssh_for_systems("title-pssh", "SD")
    assert set(boxes) == {"widevine", "playready", "clearkey"}
    for box in boxes.values():
        assert box[4:8] == b"pssh"
    assert keys["SD"].kid in boxes["widevine"]
    doc = client.document_for("title-pssh")
    assert doc is not None and doc.content_id == "title-pssh"


def test_cpix_alias_path_and_raw_exchange(keyserver: KeyServer) -> None:
    req = build_request("raw", {"HD": b"\x01" * 16}, scheme="cbcs", systems=["fairplay"])
    status, headers, body = _post(
        f"{keyserver.url}/cpix", req, {"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200, body
    assert headers["X-Speke-Version"] == "2.0"
    doc = parse_response(body)
    assert list(doc.keys_by_label()) == ["HD"]
    assert doc.schemes[doc.kids[0]] == "cbcs"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_auth_failure_is_401_without_retry(keyserver: KeyServer, token: str | None) -> None:
    with Front(keyserver.url) as front:
        client = SpekeClient(f"{front.url}/speke/v2/copyProtection", token=token, backoff=0.01)
        with pytest.raises(KeyServerError) as info:
            client.keys_for("title-1", ["SD"])
    assert info.value.server_status == 401
    assert isinstance(info.value, Refused) and info.value.status == 403
    assert "401" in str(info.value) and front.url in str(info.value)
    assert "credentials" in str(info.value)  # the server's message
    assert front.count == 1


def test_401_carries_www_authenticate(keyserver: KeyServer) -> None:
    status, headers, _ = _post(f"{keyserver.url}/cpix", b"<x/>")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_basic_auth(store_path: Path) -> None:
    server = make_keyserver(LocalKeyStore(store_path), basic=("enc", "pw"))
    _start(server)
    try:
        url = f"{server.url}/cpix"
        assert SpekeClient(url, basic=("enc", "pw")).keys_for("t", ["SD"])["SD"]
        with pytest.raises(KeyServerError) as info:
            SpekeClient(url, basic=("enc", "nope")).keys_for("t", ["SD"])
        assert info.value.server_status == 401 and isinstance(info.value, Refused)
    finally:
        server.shutdown()
        server.server_close()


def test_flaky_server_succeeds_after_retries(keyserver: KeyServer) -> None:
    with Front(keyserver.url, fail=2, status=503) as front:
        client = SpekeClient(f"{front.url}/cpix", token=TOKEN, retries=3, backoff=0.01)
        keys = client.keys_for("title-flaky", ["AUDIO", "SD"])
    assert sorted(keys) == ["AUDIO", "SD"]
    assert front.count == 3


def test_retries_exhausted_names_status(keyserver: KeyServer) -> None:
    with Front(keyserver.url, fail=10, status=429) as front:
        client = SpekeClient(f"{front.url}/cpix", token=TOKEN, retries=2, backoff=0.01)
        with pytest.raises(KeyServerError) as info:
            client.keys_for("t", ["SD"])
    assert info.value.server_status == 429 and "after 3 attempt(s)" in str(info.value)
    assert isinstance(info.value, Transient)  # workers retry it later
    assert front.count == 3


def test_timeout_is_honoured(keyserver: KeyServer) -> None:
    timeout, retries = 0.3, 2
    with Front(keyserver.url, sleep=30) as front:
        client = SpekeClient(
            f"{front.url}/cpix", token=TOKEN, timeout=timeout, retries=retries, backoff=0.01
        )
        start = time.monotonic()
        with pytest.raises(KeyServerError) as info:
            client.keys_for("t", ["SD"])
        elapsed = time.monotonic() - start
    assert "timed out" in str(info.value)
    assert elapsed < timeout * (retries + 1) + 1.0
    assert front.count == retries + 1


def test_connection_refused_is_retried_then_reported() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    client = SpekeClient(f"http://127.0.0.1:{port}/cpix", retries=1, backoff=0.01)
    with pytest.raises(KeyServerError, match="no answer.*after 2 attempt") as info:
        client.keys_for("t", ["SD"])
    assert isinstance(info.value, Transient) and info.value.server_status is None


# -- hostile and oversized input -----------------------------------------------------------


def test_xxe_is_refused_without_reading(keyserver: KeyServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    with Front(keyserver.url) as trap:
        for system in (secret.as_uri(), f"{trap.url}/xxe"):
            doc = (
                f'<?xml version="1.0"?>\n<!DOCTYPE CPIX [<!ENTITY x SYSTEM "{system}">]>\n'
                f'<CPIX xmlns="urn:dashif:org:cpix" contentId="&x;" version="2.3"/>'
            ).encode()
            status, _, body = _post(
                f"{keyserver.url}/cpix", doc, {"Authorization": f"Bearer {TOKEN}"}
            )
            assert status == 400
            assert b"DOCTYPE" in body
            assert b"TOP-SECRET-MARKER" not in body
        assert trap.paths == []  # no external fetch either


@pytest.mark.parametrize(
    "body, needle",
    [
        (b"not xml at all", b"well-formed"),
        (b'<CPIX xmlns="urn:other"/>', b"root element"),
        (b"", b"empty"),
        (b'<CPIX xmlns="urn:dashif:org:cpix" contentId="x" version="2.3"/>', b"ContentKey"),
    ],
)
def test_malformed_cpix_is_400(keyserver: KeyServer, body: bytes, needle: bytes) -> None:
    status, _, answer = _post(f"{keyserver.url}/cpix", body, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400
    assert needle in answer


def test_unsupported_label_is_400(keyserver: KeyServer) -> None:
    req = build_request("t", {"SD+HD": b"\x02" * 16}, scheme="cenc", systems=["widevine"])
    status, _, answer = _post(f"{keyserver.url}/cpix", req, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400 and b"exactly one of" in answer


def test_request_without_drm_system_is_400(keyserver: KeyServer) -> None:
    req = build_request("t", {"SD": b"\x03" * 16}, scheme="cenc", systems=["widevine"])
    start, end = req.index(b"<cpix:DRMSystemList>"), req.index(b"</cpix:DRMSystemList>")
    req = req[:start] + req[end + len(b"</cpix:DRMSystemList>") :]
    status, _, answer = _post(f"{keyserver.url}/cpix", req, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 400 and b"names no DRMSystem" in answer


def test_oversize_body_is_413(keyserver: KeyServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", keyserver.server_address[1], timeout=5)
    try:
        conn.putrequest("POST", "/cpix")
        conn.putheader("Authorization", f"Bearer {TOKEN}")
        conn.putheader("Content-Length", str(2 << 20))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        assert b"limit" in resp.read()
    finally:
        conn.close()
    # the server is still healthy afterwards
    assert _client(keyserver).keys_for("after-413", ["SD"])


# -- ClearKey licences ---------------------------------------------------------------------


def test_clearkey_license_returns_exactly_requested_keys(keyserver: KeyServer) -> None:
    keys = _client(keyserver).keys_for("title-ck", LABELS3)
    wanted = [keys["SD"].kid, keys["HD"].kid]
    status, headers, body = _post(
        f"{keyserver.url}/clearkey/license",
        license_request(wanted),
        {"Content-Type": "application/json"},
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    answer = json.loads(body)
    got = {jwk["kid"]: jwk["k"] for jwk in answer["keys"]}
    assert got == {b64url(keys[lb].kid): b64url(keys[lb].key) for lb in ("SD", "HD")}
    assert all("=" not in v for pair in got.items() for v in pair)
    assert all(jwk["kty"] == "oct" for jwk in answer["keys"])


def test_clearkey_unknown_kid_and_bad_json(keyserver: KeyServer) -> None:
    url = f"{keyserver.url}/clearkey/license"
    status, headers, body = _post(url, license_request([b"\x09" * 16]))
    assert status == 404 and json.loads(body)["keys"] == []
    assert headers["Access-Control-Allow-Origin"] == "*"
    status, headers, body = _post(url, b"{nope")
    assert status == 400 and b"not JSON" in body
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_clearkey_preflight(keyserver: KeyServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", keyserver.server_address[1], timeout=5)
    try:
        conn.request(
            "OPTIONS",
            "/clearkey/license",
            headers={"Origin": "http://player", "Access-Control-Request-Method": "POST"},
        )
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 204
        assert resp.getheader("Access-Control-Allow-Origin") == "*"
        assert "POST" in (resp.getheader("Access-Control-Allow-Methods") or "")
        assert "Content-Type" in (resp.getheader("Access-Control-Allow-Headers") or "")
    finally:
        conn.close()


# -- logging -------------------------------------------------------------------------------


def test_keyserver_never_logs_keys(keyserver: KeyServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keys = _client(keyserver).keys_for("title-log", LABELS3)
    _post(f"{keyserver.url}/clearkey/license", license_request([k.kid for k in keys.values()]))
    _post(f"{keyserver.url}/cpix", b"<bad", {"Authorization": f"Bearer {TOKEN}"})
    text = caplog.text
    assert keys["SD"].kid_uuid in text  # KIDs are logged, so the log is not simply empty
    for secret in _secrets(keys):
        assert secret not in text
    assert TOKEN not in text


# -- CLI -----------------------------------------------------------------------------------


def test_keys_show_hides_keys_unless_revealed(store_path: Path) -> None:
    keys = LocalKeyStore(store_path).keys_for("cli-title", LABELS3)
    runner = CliRunner()
    result = runner.invoke(keys_group, ["show", "cli-title", "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    for label, key in keys.items():
        assert label in result.stdout and key.kid_uuid in result.stdout
    for secret in _secrets(keys):
        assert secret not in result.output

    result = runner.invoke(keys_group, ["show", "cli-title", "--store", str(store_path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [r["label"] for r in data["keys"]] == LABELS3
    assert all("key_hex" not in r for r in data["keys"])

    result = runner.invoke(
        keys_group, ["show", "cli-title", "--store", str(store_path), "--reveal"]
    )
    assert result.exit_code == 0
    assert all(k.key.hex() in result.stdout for k in keys.values())
    assert "warning" in result.stderr and keys["SD"].key.hex() not in result.stderr


def test_keys_show_errors(store_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / "none.sqlite"
    result = runner.invoke(keys_group, ["show", "t", "--store", str(missing)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: no key store at {missing} (set --store or $VOD_KEY_STORE)\n"
    assert not missing.exists()
    LocalKeyStore(store_path)
    result = runner.invoke(keys_group, ["show", "unknown", "--store", str(store_path)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: no keys for title 'unknown' in {store_path}\n"


def test_default_store_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOD_KEY_STORE", str(tmp_path / "k.sqlite"))
    assert default_store_path() == tmp_path / "k.sqlite"
    monkeypatch.delenv("VOD_KEY_STORE")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_store_path() == tmp_path / ".local/share/vod-pipeline/keys.sqlite"


def test_client_rejects_bad_config() -> None:
    with pytest.raises(DrmError, match=r"must be http\(s\)://host/path, got 'ftp://x/cpix'$"):
        SpekeClient("ftp://x/cpix")
    with pytest.raises(DrmError, match="a bearer token or basic auth, not both$"):
        SpekeClient("http://x/cpix", token="a", basic=("u", "p"))
    client = SpekeClient("http://user:pw@127.0.0.1:1/cpix?token=abc")
    assert "pw" not in client.safe_url and "abc" not in client.safe_url
