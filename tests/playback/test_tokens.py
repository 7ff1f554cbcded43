"""CDN access tokens (playback.tokens) and the token-enforcing origin gateway in `vod serve`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from playback.tokens import (
    PATH_PREFIX,
    TokenError,
    cloudfront_b64decode,
    cloudfront_signed_url,
    sign_token,
    signed_url,
    split_path_token,
    verify_token,
)
from tests.support.player_harness import PlayerSession, fetch, serve_directory

SECRET = b"test-secret-0123456789"
NOW = 1_800_000_000


def reason(token: str, path: str, now: float = NOW + 10, secret: bytes = SECRET) -> str | None:
    try:
        verify_token(secret, token, path, now)
    except TokenError as exc:
        return exc.reason
    return None


def test_round_trip_and_format() -> None:
    token = sign_token(SECRET, "/alpha/*", start=NOW, lifetime=60, session_id="s-1")
    assert token.startswith(f"st={NOW}~exp={NOW + 60}~acl=/alpha/*~id=s-1~hmac=")
    for path in ("/alpha/master.m3u8", "/alpha/v/seg_00001.m4s", "/alpha//x.mp4"):
        assert reason(token, path) is None
    assert reason(sign_token(SECRET, "/alpha/*", start=NOW, lifetime=60), "/alpha/a") is None


def test_time_window() -> None:
    token = sign_token(SECRET, "/alpha/*", start=NOW, lifetime=60)
    assert reason(token, "/alpha/a", now=NOW - 1) == "not_yet_valid"
    assert reason(token, "/alpha/a", now=NOW) is None
    assert reason(token, "/alpha/a", now=NOW + 60) == "expired"


def test_tampering() -> None:
    token = sign_token(SECRET, "/alpha/*", start=NOW, lifetime=60)
    mac = token[-64:]
    flipped = token[:-1] + ("0" if mac[-1] != "0" else "1")
    assert reason(flipped, "/alpha/a") == "bad_signature"
    assert reason(token.replace("/alpha/*", "/*"), "/alpha/a") == "bad_signature"
    assert reason(token.replace(f"exp={NOW + 60}", f"exp={NOW + 9999}"), "/a") == "bad_signature"
    assert reason(token, "/alpha/a", secret=b"other") == "bad_signature"
    assert reason(token[:-64] + mac.upper(), "/alpha/a") == "malformed"
    for junk in ("", "hmac=", "st=1~exp=2~hmac=" + mac, "x=1~st=1~exp=2~acl=/*~hmac=" + mac):
        assert reason(junk, "/alpha/a") == "malformed"


@pytest.mark.parametrize(
    "path",
    [
        "/beta/master.m3u8",
        "/alpha",
        "/alphabet/x",
        "/alpha/../beta/master.m3u8",
        "/alpha/%2e%2e/beta/master.m3u8",
        "/alpha/%2E%2E%2Fbeta/master.m3u8",
        "/alpha/./x",
        "/alpha/..%5cbeta",
        "/alpha/x%00",
        "alpha/x",
    ],
)
def test_out_of_scope(path: str) -> None:
    token = sign_token(SECRET, "/alpha/*", start=NOW, lifetime=60)
    assert reason(token, path) == "out_of_scope"


def test_multi_glob_acl_and_exact() -> None:
    token = sign_token(SECRET, "/alpha/master.m3u8!/beta/*", start=NOW, lifetime=60)
    assert reason(token, "/alpha/master.m3u8") is None
    assert reason(token, "/beta/x") is None
    assert reason(token, "/alpha/other.m3u8") == "out_of_scope"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_mutation_fails(data: st.DataObject) -> None:
    token = sign_token(SECRET, "/alpha/*", start=NOW, lifetime=600, session_id="abc")
    kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    i = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.characters(codec="utf-8"))
    if kind == "replace":
        mutated = token[:i] + char + token[i + 1 :]
    elif kind == "insert":
        mutated = token[:i] + char + token[i:]
    else:
        mutated = token[:i] + token[i + 1 :]
    if mutated == token:
        return
    assert reason(mutated, "/alpha/master.m3u8") is not None


def test_signed_url_styles() -> None:
    url = signed_url("http://h:1/", "/alpha/master.m3u8", SECRET, 60, start=NOW)
    parts = urlsplit(url)
    token, rest = split_path_token(parts.path)
    assert parts.path.startswith(PATH_PREFIX) and rest == "/alpha/master.m3u8"
    assert token is not None and reason(token, rest) is None
    qurl = signed_url("http://h:1", "/alpha/master.m3u8", SECRET, 60, start=NOW, style="query")
    q = urlsplit(qurl)
    assert q.path == "/alpha/master.m3u8"
    assert reason(parse_qs(q.query)["hdnts"][0], q.path) is None


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _check_sig(key: rsa.RSAPrivateKey, policy: bytes, signature: str) -> None:
    key.public_key().verify(
        cloudfront_b64decode(signature), policy, padding.PKCS1v15(), hashes.SHA1()
    )


def test_cloudfront_canned(rsa_key: rsa.RSAPrivateKey) -> None:
    url = "https://d111.cloudfront.net/alpha/master.m3u8"
    signed = cloudfront_signed_url(url, "K2JCJMDEHXQW5F", _pem(rsa_key), NOW + 300)
    q = {k: v[0] for k, v in parse_qs(urlsplit(signed).query).items()}
    assert q["Key-Pair-Id"] == "K2JCJMDEHXQW5F" and q["Expires"] == str(NOW + 300)
    assert not set(q["Signature"]) & set("+=/")
    canned = json.dumps(
        {
            "Statement": [
                {"Resource": url, "Condition": {"DateLessThan": {"AWS:EpochTime": NOW + 300}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    _check_sig(rsa_key, canned, q["Signature"])
    with pytest.raises(InvalidSignature):
        _check_sig(rsa_key, canned.replace(b"alpha", b"beta"), q["Signature"])


def test_cloudfront_custom_policy(rsa_key: rsa.RSAPrivateKey) -> None:
    expires = datetime.fromtimestamp(NOW + 300, UTC)
    signed = cloudfront_signed_url(
        "https://d111.cloudfront.net/alpha/master.m3u8",
        "KID",
        _pem(rsa_key),
        expires,
        policy_acl="https://d111.cloudfront.net/alpha/*",
    )
    q = {k: v[0] for k, v in parse_qs(urlsplit(signed).query).items()}
    policy = cloudfront_b64decode(q["Policy"])
    statement = json.loads(policy)["Statement"][0]
    assert statement["Resource"] == "https://d111.cloudfront.net/alpha/*"
    assert statement["Condition"]["DateLessThan"]["AWS:EpochTime"] == NOW + 300
    _check_sig(rsa_key, policy, q["Signature"])


# --- the gateway over HTTP --------------------------------------------------------------

FILES = {
    "master.m3u8": b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n",
    "v/index.m3u8": b"#EXTM3U\n#EXTINF:2,\nseg_00001.m4s\n#EXT-X-ENDLIST\n",
    "v/seg_00001.m4s": b"\x00" * 1000,
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tok-origin")
    for title in ("alpha", "beta"):
        for rel, body in FILES.items():
            (root / title / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / title / rel).write_bytes(body)
    with serve_directory(root, token_secret=SECRET) as base:
        yield base


def prefixed(base: str, token: str, path: str) -> str:
    return f"{base}{PATH_PREFIX}{quote(token, safe='')}{path}"


def test_gateway_valid_token(gateway: str) -> None:
    token = sign_token(SECRET, "/alpha/*", start=int(time.time()) - 5, lifetime=300)
    for rel, body in FILES.items():
        assert fetch(prefixed(gateway, token, f"/alpha/{rel}")) == (200, body)
    assert fetch(f"{gateway}/alpha/master.m3u8?hdnts={quote(token, safe='')}")[0] == 200
    url = signed_url(gateway, "/alpha/master.m3u8", SECRET, 60, start=int(time.time()))
    assert fetch(url)[0] == 200
    assert fetch(url.replace("master.m3u8", "v/seg_00001.m4s"))[0] == 200


def test_gateway_refusals(gateway: str) -> None:
    now = int(time.time())
    expired = sign_token(SECRET, "/alpha/*", start=now - 600, lifetime=60)
    good = sign_token(SECRET, "/alpha/*", start=now - 5, lifetime=300)
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    cases = {
        prefixed(gateway, expired, "/alpha/master.m3u8"): b"expired",
        prefixed(gateway, tampered, "/alpha/master.m3u8"): b"bad_signature",
        prefixed(gateway, good, "/beta/master.m3u8"): b"out_of_scope",
        prefixed(gateway, good, "/alpha/../beta/master.m3u8"): b"out_of_scope",
        prefixed(gateway, good, "/alpha/%2e%2e/beta/master.m3u8"): b"out_of_scope",
        f"{gateway}/beta/master.m3u8?hdnts={quote(good, safe='')}": b"out_of_scope",
        f"{gateway}/alpha/master.m3u8": b"missing",
        f"{gateway}/alpha/v/seg_00001.m4s": b"missing",
        prefixed(gateway, "garbage", "/alpha/master.m3u8"): b"malformed",
    }
    for url, why in cases.items():
        status, body = fetch(url)
        assert status == 403 and why in body, (url, status, body)


def test_gateway_open_paths(gateway: str) -> None:
    status, body = fetch(f"{gateway}/_titles")
    assert status == 200
    assert {t["id"] for t in json.loads(body)} == {"alpha", "beta"}
    assert b"hmac" not in body
    assert fetch(f"{gateway}/")[0] == 200


def test_no_secret_unchanged(tmp_path: Path) -> None:
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "master.m3u8").write_bytes(FILES["master.m3u8"])
    with serve_directory(tmp_path) as base:
        assert fetch(f"{base}/alpha/master.m3u8") == (200, FILES["master.m3u8"])


@pytest.mark.browser
@pytest.mark.slow
def test_shaka_plays_through_signed_path(sample_title: dict, browser: PlayerSession) -> None:
    with serve_directory(sample_title["origin"], token_secret=SECRET) as base:
        assert fetch(f"{base}/sample/master.m3u8")[0] == 403
        url = signed_url(base, "/sample/master.m3u8", SECRET, 600, start=int(time.time()) - 5)
        result = browser.play(url, "shaka", min_time=3.0)
    assert result.ok, result.describe()
    assert len(result.variants) >= 2, result.variants
