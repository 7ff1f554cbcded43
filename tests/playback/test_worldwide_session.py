"""A title licensed only worldwide (`WW`) plays for a GB subscriber through a real playback
session (uvicorn + gateway + Redis, SQLite and PostgreSQL): the session API must expand the
subscriber's territory to the regions containing it, and honour the window's exclusions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import m3u8
import pytest

from catalogue import db, store
from catalogue.model import AvailabilityWindow, FormatProfile, LicenseType, PriceTerms, Title
from tests.support.playback_env import PlaybackEnv, start_env, write_ladder_title

TITLE = "ladderww"


@pytest.fixture(scope="module")
def env(database_url: str, encrypted_origin: dict, redis_service: str) -> Iterator[PlaybackEnv]:
    """The playback environment plus `ladderww`: the 234p..2160p ladder, one UHD SVOD window
    in WW (every tier includes `basic`), DE excluded; DE gets `ladder4k` so it sells at all."""
    summary = write_ladder_title(encrypted_origin["root"], TITLE)
    window = AvailabilityWindow(
        title=Title(alid=f"md:alid:test:{TITLE}", content_id=TITLE, name="Worldwide ladder"),
        territory="WW",
        territories_excluded=["DE"],
        license_type=LicenseType.SVOD,
        format_profile=FormatProfile.UHD,
        price=PriceTerms(tier="basic"),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=None,
    )
    with start_env(database_url, encrypted_origin, redis_service) as e:
        with db.session_scope(e.app.state.engine) as s:
            other = Title(alid="md:alid:test:ladder4k", content_id="ladder4k")
            de = window.model_copy(update={"title": other, "territory": "DE",
                                           "territories_excluded": []})  # fmt: skip
            store.import_windows(s, [window, de])
            store.record_presentation(s, TITLE, summary, "http://origin.invalid")
        yield e


def test_worldwide_title_session_for_a_gb_subscriber(env: PlaybackEnv) -> None:
    customer = env.activate("premium", territory="GB")
    env.register(customer, "tv", "L1", "tv", "widevine")
    resp = env.session(customer, "tv", TITLE)
    assert resp.status_code == 201, resp.text
    s = resp.json()
    assert set(s["renditions"]) == {"v234p", "v540p", "v720p", "v1080p", "v2160p", "a-en"}
    master = env.http.get(s["manifests"]["hls"])
    assert master.status_code == 200, master.text
    heights = sorted(p.stream_info.resolution[1] for p in m3u8.loads(master.text).playlists)
    assert heights == [234, 540, 720, 1080, 2160]


def test_worldwide_title_refused_where_excluded(env: PlaybackEnv) -> None:
    customer = env.activate("premium", territory="DE")
    env.register(customer, "tv", "L1", "tv", "widevine")
    resp = env.session(customer, "tv", TITLE)
    assert (resp.status_code, resp.json()["reason"]) == (403, "no_rights_in_territory"), resp.text
