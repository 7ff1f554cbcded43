"""HLS key delivery bound to the playback session (`GET /playback/v1/sessions/{sid}/keys/{kid}`),
reached the way a player reaches it: from the key URIs the gateway writes into the session's
playlists. An SD session's playlists and MPD name no HD KID; its key route hands out exactly the
key store's keys of its own KIDs and refuses the rest like the licence does."""

from __future__ import annotations

import base64
import dataclasses
import re
import time
import uuid
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import m3u8
import pytest
from lxml import etree

from drm.signalling.clearkey import license_request
from drm.signalling.decode import decode
from playback import service
from playback.errors import PlaybackUnavailable
from playback.manifest_filter import key_attrs, key_line_kids
from tests.support.playback_env import PlaybackEnv

NS = {"d": "urn:mpeg:dash:schema:mpd:2011", "cenc": "urn:mpeg:cenc:2013"}
KEY_TAGS = ("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:")


@pytest.fixture(scope="module")
def env(sqlite_env: PlaybackEnv) -> PlaybackEnv:  # noqa: F811
    return sqlite_env


def sd_session(env: PlaybackEnv) -> dict:
    """A Standard subscriber on a ClearKey desktop: the SD band (SD + AUDIO keys)."""
    customer = env.activate("standard")
    env.register(customer, "laptop")
    resp = env.session(customer, "laptop")
    assert resp.status_code == 201, resp.text
    s = resp.json()
    assert sorted(s["license"]["policy"]["kids"]) == ["AUDIO", "SD"]
    return s


def kids_of(env: PlaybackEnv) -> dict[str, bytes]:
    labels = env.origin["summaries"]["sample"]["drm"]["kids"]
    return {label: uuid.UUID(k).bytes for label, k in labels.items()}


def spellings(kid: bytes) -> list[str]:
    """How a manifest could name a KID: hex (either case), UUID, base64 in a PSSH."""
    return [kid.hex(), kid.hex().upper(), str(uuid.UUID(bytes=kid)), base64.b64encode(kid).decode()]


def get(http: httpx.Client, url: str) -> httpx.Response:
    resp = http.get(url)
    assert resp.status_code == 200, (url, resp.text)
    return resp


def session_playlists(env: PlaybackEnv, s: dict) -> dict[str, str]:
    """The master and every playlist it names, fetched through the gateway as a player does."""
    master_url = s["manifests"]["hls"]
    master = get(env.http, master_url).text
    parsed = m3u8.loads(master)
    names = [p.uri for p in parsed.playlists] + [p.uri for p in parsed.iframe_playlists]
    names += [m.uri for m in parsed.media if m.uri]
    base = master_url.rsplit("/", 1)[0]
    return {"master.m3u8": master, **{n: get(env.http, f"{base}/{n}").text for n in names}}


def key_uris(text: str) -> dict[bytes, str]:
    """KID -> URI of the identity key lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith(KEY_TAGS) and 'KEYFORMAT="identity"' in line:
            attrs = key_attrs(line)
            (kid,) = key_line_kids(attrs)
            out[kid] = attrs["URI"]
    return out


def test_sd_session_hls_playlists_name_no_hd_kid(env: PlaybackEnv) -> None:
    s = sd_session(env)
    kids = kids_of(env)
    allowed = {kids["SD"], kids["AUDIO"]}
    playlists = session_playlists(env, s)
    assert len(playlists) >= 1 + 2 * 5 + 1  # master, five SD rungs and their I-frames, audio
    here = s["license"]["url"].split("/license?")[0]
    for name, text in playlists.items():
        assert not any(form in text for form in spellings(kids["HD"])), name
        lines = [ln for ln in text.splitlines() if ln.startswith(KEY_TAGS)]
        assert lines, name  # encrypted: every playlist signals its key
        named = set().union(*(key_line_kids(key_attrs(ln)) for ln in lines))
        assert named and named <= allowed, name
        assert all(uri.startswith(f"{here}/keys/") for uri in key_uris(text).values()), name
        assert "/license/clearkey" not in text, name
    assert set(key_uris(playlists["master.m3u8"])) == allowed


def test_sd_session_mpd_names_no_hd_kid(env: PlaybackEnv) -> None:
    s = sd_session(env)
    kids = kids_of(env)
    mpd = get(env.http, s["manifests"]["dash"]).content
    root = etree.fromstring(mpd)
    defaults = {
        uuid.UUID(cp.get(f"{{{NS['cenc']}}}default_KID")).bytes
        for cp in root.iterfind(".//d:ContentProtection[@cenc:default_KID]", NS)
    }
    in_pssh = {
        uuid.UUID(k).bytes
        for box in root.iterfind(".//cenc:pssh", NS)
        for entry in decode(box.text or "")
        for k in [*entry.get("kids", []), *entry.get("data", {}).get("key_ids", [])]
    }
    assert defaults == {kids["SD"], kids["AUDIO"]}
    assert in_pssh <= defaults
    text = mpd.decode()
    assert not any(form in text for form in spellings(kids["HD"]))


def test_key_route_delivers_exactly_the_sessions_keys(env: PlaybackEnv) -> None:
    s = sd_session(env)
    kids = kids_of(env)
    store = env.origin["keys"]
    uris = key_uris(session_playlists(env, s)["master.m3u8"])
    for label in ("SD", "AUDIO"):
        resp = env.http.get(uris[kids[label]], headers={"Origin": "http://player.test"})
        assert resp.status_code == 200, resp.text
        assert resp.content == store.key_for_kid(kids[label]).key and len(resp.content) == 16
        assert resp.headers["content-type"] == "application/octet-stream"
        assert resp.headers["cache-control"] == "no-store"
        assert resp.headers["access-control-allow-origin"] == "*"  # players fetch it cross-origin

    sd_uri = uris[kids["SD"]]
    hd_uri = sd_uri.replace(kids["SD"].hex(), kids["HD"].hex())
    hd = env.http.get(hd_uri)
    assert hd.status_code == 403 and hd.json()["reason"] == "kid_not_entitled"
    assert store.key_for_kid(kids["HD"]).key not in hd.content

    credential = unquote(parse_qs(urlsplit(sd_uri).query)["auth"][0])
    flipped = credential[:-1] + ("1" if credential[-1] == "0" else "0")
    base = sd_uri.split("?")[0]
    other = sd_session(env)
    other_base = key_uris(session_playlists(env, other)["master.m3u8"])[kids["SD"]].split("?")[0]
    cases = {
        f"{base}?auth={quote(flipped, safe='')}": "credential_bad_signature",
        base: "missing_credential",
        f"{other_base}?auth={quote(credential, safe='')}": "credential_out_of_scope",
    }
    for url, reason in cases.items():
        got = env.http.get(url)
        assert got.status_code == 403 and got.json()["reason"] == reason, (url, got.text)
    bad_kid = env.http.get(base.rsplit("/", 1)[0] + "/not-a-kid?auth=x")
    assert bad_kid.status_code == 422
    # The key credential travels in CDN URLs: it opens key delivery and nothing else.
    with_key_credential = {
        "POST": s["heartbeat"]["url"].split("?")[0],
        "DELETE": s["release"]["url"].split("?")[0],
    }
    for method, url in with_key_credential.items():
        got = env.http.request(method, f"{url}?auth={quote(credential, safe='')}")
        assert got.status_code == 403 and got.json()["reason"] == "credential_out_of_scope"
    licence = env.http.post(
        s["license"]["url"].split("?")[0] + f"?auth={quote(credential, safe='')}",
        content=license_request([kids["SD"]]),
    )
    assert licence.status_code == 403 and licence.json()["reason"] == "credential_out_of_scope"

    assert env.http.delete(s["release"]["url"]).status_code == 200
    gone = env.http.get(sd_uri)
    assert gone.status_code == 410 and gone.json()["reason"] == "session_released"


def test_key_route_renews_the_stream_slot_and_needs_a_key_store(env: PlaybackEnv) -> None:
    s = sd_session(env)
    kids = kids_of(env)
    pb = env.app.state.playback
    sid = s["sessionId"]
    credential = unquote(parse_qs(urlsplit(s["license"]["url"]).query)["auth"][0])  # full scope
    slots = f"{env.prefix}streams:{s['customerId']}"  # playback.streams' sorted set
    before = env.redis.zscore(slots, sid)
    assert before is not None
    time.sleep(0.05)
    key = service.deliver_key(pb, sid, credential, kids["SD"].hex(), time.time())
    assert key == env.origin["keys"].key_for_kid(kids["SD"]).key
    assert env.redis.zscore(slots, sid) > before  # renewed like a heartbeat
    keyless = dataclasses.replace(pb, key_store=None)
    with pytest.raises(PlaybackUnavailable) as refused:
        service.deliver_key(keyless, sid, credential, kids["SD"].hex(), time.time())
    assert refused.value.status == 503 and refused.value.reason == "no_key_store"


def test_session_response_and_token_stay_compact(env: PlaybackEnv) -> None:
    s = sd_session(env)
    for url in s["manifests"].values():
        assert len(url) < 1500, len(url)  # a grant in every segment request's path
        assert not re.search(r"[\s\"']", url)
