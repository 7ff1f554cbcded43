"""Entitlement edges that mutation testing (scripts/mutation.sh catalogue/entitlement.py)
found untested: which purchase counts for which path, licence expiry per path, the
longest-lasting rental, sub-second remainders, titles without video renditions, regional
territory codes, and the licence expiry's zone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from catalogue import entitlement
from catalogue.entitlement import (
    PresentationInfo,
    Purchase,
    Reason,
    Rendition,
    decide,
    territory_applies,
    territory_codes,
)
from catalogue.model import LicenseType
from tests.catalogue.test_entitlement import T0, request, run, window

NOW = T0 + timedelta(days=5)
END = T0 + timedelta(days=90)


def _bought(kind: LicenseType, at: datetime) -> Purchase:
    return Purchase(title_id="t1", license_type=kind, purchased_at=at)


def _rented(at: datetime, first_play: datetime | None = None) -> Purchase:
    return Purchase(
        title_id="t1", license_type=LicenseType.TVOD, purchased_at=at, first_played_at=first_play
    )


def test_est_needs_an_est_purchase_made_by_now() -> None:
    w = [window(license_type=LicenseType.EST)]
    assert run(w, now=NOW, purchases=[_rented(T0)]).reason == Reason.NOT_PURCHASED
    later = [_bought(LicenseType.EST, NOW + timedelta(seconds=1))]
    assert run(w, now=NOW, purchases=later).reason == Reason.NOT_PURCHASED
    d = run(w, now=NOW, purchases=[_bought(LicenseType.EST, NOW)])  # bought this instant
    assert d.allowed and d.license_type == LicenseType.EST
    assert d.policy is not None and d.policy.expires_at == END  # the window end


def test_free_windows_licence_ends_with_the_window() -> None:
    for kind in (LicenseType.AVOD, LicenseType.FVOD):
        d = run([window(license_type=kind)], now=NOW, req=request(tier=None))
        assert d.allowed and d.policy is not None
        assert d.policy.expires_at == END
        assert d.policy.rental_duration_seconds is None


def test_tvod_needs_a_rental_made_by_now() -> None:
    w = [window(license_type=LicenseType.TVOD)]
    est = [_bought(LicenseType.EST, T0)]
    assert run(w, now=NOW, purchases=est).reason == Reason.NOT_PURCHASED
    future = [_rented(NOW + timedelta(seconds=1))]
    assert run(w, now=NOW, purchases=future).reason == Reason.NOT_PURCHASED


def test_the_longest_lasting_rental_wins() -> None:
    w = [window(license_type=LicenseType.TVOD, rental_duration_hours=720, end=None)]
    old, new = _rented(NOW - timedelta(hours=100)), _rented(NOW - timedelta(hours=1))
    for purchases in ([old, new], [new, old]):
        d = run(w, now=NOW, purchases=purchases)
        assert d.policy is not None
        assert d.policy.rental_duration_seconds == 719 * 3600
        assert d.policy.expires_at == NOW + timedelta(hours=719)


def test_the_grant_lasting_longest_wins_among_equal_caps() -> None:
    short = window(license_type=LicenseType.AVOD, end=T0 + timedelta(days=10))
    long = window(license_type=LicenseType.AVOD, end=END)
    for windows in ([short, long], [long, short]):
        d = run(windows, now=NOW)
        assert d.policy is not None and d.policy.expires_at == END
    forever = window(license_type=LicenseType.AVOD, end=None)
    d = run([long, forever], now=NOW)
    assert d.policy is not None and d.policy.expires_at is None


def test_sub_second_remainder_rounds_down_to_zero() -> None:
    w = [window(license_type=LicenseType.TVOD, watch_duration_hours=48)]
    played = NOW - timedelta(hours=48) + timedelta(milliseconds=500)
    d = run(w, now=NOW, purchases=[_rented(NOW - timedelta(hours=49), played)])
    assert d.allowed and d.policy is not None
    assert d.policy.playback_duration_seconds == 0
    assert d.policy.rental_duration_seconds == 0


def test_rental_terms_past_year_9999_never_expire() -> None:
    now = datetime(9990, 1, 2, tzinfo=UTC)
    w = [window(license_type=LicenseType.TVOD, end=None, rental_duration_hours=10**6)]
    d = run(w, now=now, purchases=[_rented(datetime(9990, 1, 1, tzinfo=UTC))])
    assert d.allowed and d.policy is not None
    assert d.policy.expires_at is None and d.policy.rental_duration_seconds is None
    assert d.policy.playback_duration_seconds == 48 * 3600


def test_title_without_video_renditions_keys_follow_the_cap() -> None:
    audio_only = PresentationInfo(
        title_id="t1",
        renditions=[Rendition(id="a-en", kind="audio", codecs="mp4a.40.2")],
        kids={"AUDIO": "a", "SD": "s", "HD": "h", "UHD": "u"},
    )
    d = run([window()], now=NOW, pres=audio_only)
    assert d.allowed and d.max_height == 2160 and d.renditions == ["a-en"]
    assert d.policy is not None
    assert d.policy.hdcp == "TYPE-1"
    assert d.policy.key_labels == ["AUDIO", "SD", "HD", "UHD"]


def test_empty_window_is_reported_closed() -> None:
    assert run([window(start=T0, end=T0)], now=T0).reason == Reason.WINDOW_CLOSED


def test_naive_now_is_refused_with_the_exact_message() -> None:
    with pytest.raises(ValueError, match=r"^now must be timezone-aware$"):
        decide(request(), [window()], [], None, datetime(2025, 6, 2))


def test_a_regional_code_covers_only_its_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(entitlement.REGIONS, "EU", frozenset({"FR", "DE"}))
    assert territory_applies("EU", [], "FR") is True
    assert territory_applies("EU", [], "GB") is False
    assert territory_applies("EU", ["FR"], "FR") is False
    assert territory_codes("FR") == ["FR", "WW", "EU"]
    assert territory_codes("GB") == ["GB", "WW"]


def test_licence_expiry_is_utc_whatever_the_server_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        d = run([window()], now=NOW)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert d.policy is not None and d.policy.expires_at is not None
    assert d.policy.expires_at.utcoffset() == timedelta(0)
    assert d.policy.expires_at == END
