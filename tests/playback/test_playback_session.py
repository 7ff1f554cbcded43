"""Playback sessions over real HTTP (uvicorn + the `vod serve` gateway + Redis), on SQLite and
PostgreSQL: the entitlement decision picks the renditions, the gateway serves manifests cut to
them and refuses the rest, tokens are checked, the licence proxy releases only the session's
keys, and the tier's concurrent-stream limit holds, with silent streams freeing their slot."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import m3u8
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from drm.signalling.clearkey import b64url_decode, license_request
from playback.config import CdnOrigin, ConfigError, PlaybackConfig
from playback.grant import decode_grant, encode_grant
from playback.tokens import PATH_PREFIX, cloudfront_b64decode, sign_token, split_path_token
from tests.support.playback_env import GATEWAY_SECRET, PlaybackEnv, start_env

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


@pytest.fixture(scope="module")
def start(database_url: str, encrypted_origin: dict, redis_service: str) -> Callable[..., Any]:  # noqa: F811
    """start_env(...) on this module's database, origin and Redis."""
    return partial(start_env, database_url, encrypted_origin, redis_service)


@pytest.fixture(scope="module")
def env(start: Callable[..., Any]) -> Iterator[PlaybackEnv]:
    with start(heartbeat_ttl=2) as e:
        yield e


def _kid(uuid_text: str) -> bytes:
    return bytes.fromhex(uuid_text.replace("-", ""))


def hls_heights(http: httpx.Client, url: str) -> list[int]:
    resp = http.get(url)
    assert resp.status_code == 200, resp.text
    return sorted(p.stream_info.resolution[1] for p in m3u8.loads(resp.text).playlists)


def dash_heights(http: httpx.Client, url: str) -> list[int]:
    resp = http.get(url)
    assert resp.status_code == 200, resp.text
    root = etree.fromstring(resp.content)
    return sorted(int(r.get("height")) for r in root.iterfind(".//d:Representation[@height]", NS))


def flip_last(token: str) -> str:
    """The token with its last HMAC digit changed (always a different digit)."""
    return token[:-1] + ("1" if token[-1] == "0" else "0")


def sibling(url: str, rel: str) -> str:
    """A URL next to the manifest, keeping its token prefix (as a player resolves it)."""
    return url.rsplit("/", 1)[0] + "/" + rel


# -- the decision reaches the manifests ------------------------------------------------------

CAPS = [  # title, tier, security level, device class -> tallest rendition (of 234p..2160p)
    ("ladder4k", "basic", "L1", "tv", 720),  # the tier's cap
    ("ladder4k", "standard", "L1", "tv", 1080),  # the tier's cap
    ("ladder4k", "premium", "L1", "tv", 2160),  # nothing caps a UHD window on a hardware CDM
    ("ladderhd", "premium", "L1", "tv", 1080),  # the rights: an HD-only window
    ("ladder4k", "premium", "L1", "mobile", 1080),  # the device class
    ("ladder4k", "standard", "ClearKey", "desktop", 540),  # software CDM: SD key band (576)
    ("ladder4k", "premium", "L3", "tv", 540),  # software Widevine: the same
]


@pytest.mark.parametrize("title, tier, level, device_class, top", CAPS)
def test_session_manifests_carry_only_what_the_subscriber_may_play(
    env: PlaybackEnv, title: str, tier: str, level: str, device_class: str, top: int
) -> None:
    customer = env.activate(tier)
    drm = "clearkey" if level == "ClearKey" else "widevine"
    env.register(customer, "dev", level, device_class, drm)
    resp = env.session(customer, "dev", title)
    assert resp.status_code == 201, resp.text
    s = resp.json()
    expected = [
        h for _, h in [(416, 234), (960, 540), (1280, 720), (1920, 1080), (3840, 2160)] if h <= top
    ]
    assert s["maxHeight"] >= top and max(expected) == top
    assert hls_heights(env.http, s["manifests"]["hls"]) == expected
    assert dash_heights(env.http, s["manifests"]["dash"]) == expected
    allowed = set(s["renditions"])
    assert allowed == {f"v{h}p" for h in expected} | {"a-en"}
    for h in (234, 540, 720, 1080, 2160):
        for rel in (f"v{h}p.m3u8", f"v{h}p/1.m4s", f"v{h}p/init.mp4"):
            got = env.http.get(sibling(s["manifests"]["hls"], rel))
            if h <= top:
                assert got.status_code == 404, (rel, got.text)  # allowed; ladder4k has no media
            else:
                assert got.status_code == 403 and b"rendition_not_allowed" in got.content, rel


def test_session_urls_are_signed_for_the_title_and_session(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    env.register(customer, "dev")
    s = env.session(customer, "dev").json()
    url = s["manifests"]["dash"]
    assert url.startswith(env.gateway + PATH_PREFIX)
    token, rest = split_path_token(urlsplit(url).path)
    assert rest == "/sample/manifest.mpd" and token is not None
    fields = dict(f.split("=", 1) for f in token.split("~"))
    assert fields["acl"] == "/sample/*" and fields["id"] == s["sessionId"]
    grant = decode_grant(fields["data"])
    assert grant.renditions == set(s["renditions"])
    assert grant.kids == {_kid(k) for k in s["license"]["policy"]["kids"].values()}
    here = s["license"]["url"].split("/license?")[0]
    assert grant.key_base == here + "/keys"
    key_acl = dict(f.split("=", 1) for f in grant.credential.split("~"))["acl"]
    assert key_acl == f"/playback/v1/sessions/{s['sessionId']}/keys/*"  # key delivery only
    assert int(fields["exp"]) - int(fields["st"]) > 3600
    assert s["cdn"] == {"region": "cdn-eu-west", "origin": "default", "kind": "akamai"}
    assert s["license"]["policy"]["key_labels"] == ["AUDIO", "SD"]
    assert s["heartbeat"]["intervalSeconds"] <= s["heartbeat"]["ttlSeconds"]


def test_gateway_refuses_tampered_and_expired_session_tokens(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    env.register(customer, "dev")
    s = env.session(customer, "dev").json()
    url = s["manifests"]["dash"]
    assert env.http.get(url).status_code == 200
    token, rest = split_path_token(urlsplit(url).path)
    assert token is not None
    fields = dict(f.split("=", 1) for f in token.split("~"))
    grant = decode_grant(fields["data"])
    hd_kid = _kid(env.origin["summaries"]["sample"]["drm"]["kids"]["HD"])
    wider = encode_grant(  # ask for the HD renditions and key
        {*grant.renditions, "v720p3000", "v720p4500"},
        {*grant.kids, hd_kid},
        grant.key_base,
        grant.credential,
    )
    widened = token.replace(fields["data"], wider)
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    now = int(time.time())
    expired = sign_token(
        GATEWAY_SECRET.encode(),
        "/sample/*",
        start=now - 600,
        lifetime=60,
        session_id=fields["id"],
        data=fields["data"],
    )
    for bad, why in (
        (widened, b"bad_signature"),
        (flipped, b"bad_signature"),
        (expired, b"expired"),
    ):
        got = env.http.get(f"{env.gateway}{PATH_PREFIX}{quote(bad, safe='')}{rest}")
        assert got.status_code == 403 and why in got.content, got.text
    other = env.http.get(sibling(url, "../ladder4k/manifest.mpd"))
    assert other.status_code == 403


# -- refusals from the session API ---------------------------------------------------------


def test_refusals_name_their_reason(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    env.register(customer, "dev")
    cases = {
        ("nobody-here", "dev", "sample"): (403, "no_active_subscription"),
        (customer, "not-registered", "sample"): (403, "device_not_registered"),
        (customer, "dev", "no-such-title"): (404, "unknown_title"),
    }
    for (cust, dev, title), (status, reason) in cases.items():
        got = env.session(cust, dev, title)
        assert (got.status_code, got.json()["reason"]) == (status, reason), got.text
    bad = env.http.post(env.api + "/playback/v1/sessions", json={"customerId": "../x"})
    assert bad.status_code == 422


# -- licence proxy ---------------------------------------------------------------------------


def test_licence_proxy_releases_only_the_sessions_keys(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    env.register(customer, "dev")
    s = env.session(customer, "dev").json()
    keys = env.origin["keys"]
    sd, audio, hd = (keys.get("sample", label) for label in ("SD", "AUDIO", "HD"))
    assert sd and audio and hd
    lic = env.http.post(s["license"]["url"], content=license_request([sd.kid, audio.kid, hd.kid]))
    assert lic.status_code == 200, lic.text
    got = {b64url_decode(k["kid"]): b64url_decode(k["k"]) for k in lic.json()["keys"]}
    assert got == {sd.kid: sd.key, audio.kid: audio.key}  # never the HD key
    only_hd = env.http.post(s["license"]["url"], content=license_request([hd.kid]))
    assert only_hd.status_code == 403 and only_hd.json()["reason"] == "kid_not_entitled"
    junk = env.http.post(s["license"]["url"], content=b"{not json")
    assert junk.status_code == 400


def test_licence_credential_is_bound_to_its_session(env: PlaybackEnv) -> None:
    customer = env.activate("standard")
    env.register(customer, "dev")
    a, b = env.session(customer, "dev").json(), env.session(customer, "dev").json()
    body = license_request([_kid(a["license"]["policy"]["kids"]["SD"])])
    auth_a = unquote(parse_qs(urlsplit(a["license"]["url"]).query)["auth"][0])
    base_b = b["license"]["url"].split("?")[0]
    cases = {
        f"{base_b}?auth={quote(auth_a, safe='')}": "credential_out_of_scope",
        base_b: "missing_credential",
        f"{base_b}?auth={quote(flip_last(auth_a), safe='')}": "credential_bad_signature",
    }
    for url, reason in cases.items():
        got = env.http.post(url, content=body)
        assert got.status_code == 403 and got.json()["reason"] == reason, (url, got.text)
    release = env.http.delete(b["release"]["url"])
    assert release.status_code == 200
    gone = env.http.post(b["license"]["url"], content=body)
    assert gone.status_code == 410 and gone.json()["reason"] == "session_released"


# -- concurrent streams ----------------------------------------------------------------------


def test_fourth_stream_refused_until_a_silent_one_lapses(env: PlaybackEnv) -> None:
    customer = env.activate("standard")  # 3 concurrent streams
    env.register(customer, "tv")
    env.register(customer, "phone")
    streams = [env.session(customer, dev).json() for dev in ("tv", "tv", "phone")]
    assert all("sessionId" in s for s in streams), streams
    fourth = env.session(customer, "phone")
    assert fourth.status_code == 409 and fourth.json()["reason"] == "concurrent_stream_limit"
    assert fourth.json()["limit"] == 3
    live = env.http.get(env.api + "/playback/v1/sessions", params={"customer": customer}).json()
    assert {x["id"] for x in live} == {s["sessionId"] for s in streams}
    # Two streams keep heartbeating; the first goes silent and lapses after the TTL (2 s).
    deadline = time.monotonic() + 2.6
    while time.monotonic() < deadline:
        for s in streams[1:]:
            assert env.http.post(s["heartbeat"]["url"]).status_code == 200
        time.sleep(0.5)
    admitted = env.session(customer, "phone")
    assert admitted.status_code == 201, admitted.text
    lapsed = env.http.post(streams[0]["heartbeat"]["url"])
    assert lapsed.status_code == 409 and lapsed.json()["reason"] == "concurrent_stream_limit"
    # Releasing a stream frees its slot at once; the lapsed one may then come back.
    assert env.http.delete(admitted.json()["release"]["url"]).status_code == 200
    assert env.http.post(streams[0]["heartbeat"]["url"]).status_code == 200


# -- CloudFront origins and configuration ----------------------------------------------------


def test_cloudfront_origin_signs_urls_and_cookies(
    start: Callable[..., Any], tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "cf.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cf = CdnOrigin(
        name="default",
        kind="cloudfront",
        base_url="https://d111.cloudfront.net",
        key_pair_id="K2JCJMDEHXQW5F",
        private_key_file=pem,
    )
    with start(origins=[cf]) as e:
        customer = e.activate("standard")
        e.register(customer, "dev")
        s = e.session(customer, "dev").json()
    url = s["manifests"]["hls"]
    assert url.startswith("https://d111.cloudfront.net/sample/master.m3u8?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    policy = cloudfront_b64decode(q["Policy"])
    assert b'"Resource":"https://d111.cloudfront.net/sample/*"' in policy
    key.public_key().verify(
        cloudfront_b64decode(q["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1()
    )
    assert s["cookies"] == {
        "CloudFront-Policy": q["Policy"],
        "CloudFront-Signature": q["Signature"],
        "CloudFront-Key-Pair-Id": "K2JCJMDEHXQW5F",
    }
    assert s["cdn"]["kind"] == "cloudfront"


def test_playback_config_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VOD_TOKEN_SECRET"):
        PlaybackConfig.load({})
    with pytest.raises(ConfigError, match="token_secret"):
        PlaybackConfig.load({"VOD_PLAYBACK_CONFIG": str(_yaml(tmp_path, "kind: akamai"))})
    with pytest.raises(ConfigError, match="key_pair_id"):
        PlaybackConfig.load({"VOD_PLAYBACK_CONFIG": str(_yaml(tmp_path, "kind: cloudfront"))})
    good = PlaybackConfig.load(
        {"VOD_PLAYBACK_CONFIG": str(_yaml(tmp_path, "kind: akamai\n    token_secret: s3cret"))}
    )
    assert good.origin_for("cdn-eu-west").name == "eu" and good.origin_for("elsewhere").name == "eu"
    assert "s3cret" not in repr(good)
    env = PlaybackConfig.load({"VOD_TOKEN_SECRET": "x", "VOD_HEARTBEAT_TTL": "30"})
    assert env.heartbeat_ttl == 30 and env.heartbeat_every == 10


def _yaml(tmp_path: Path, origin_fields: str) -> Path:
    path = tmp_path / "playback.yaml"
    path.write_text(
        "session_secret: abc\norigins:\n  - name: eu\n    base_url: https://cdn.example\n"
        f"    {origin_fields}\n"
    )
    return path
