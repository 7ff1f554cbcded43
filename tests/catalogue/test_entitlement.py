"""The pure playback decision: worked examples, then properties checked by hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.entitlement import (
    DEVICE_MAX_HEIGHT,
    FORMAT_MAX_HEIGHT,
    HARDWARE_BACKED,
    SOFTWARE_CDM_MAX_HEIGHT,
    Decision,
    Device,
    DeviceClass,
    EntitlementRequest,
    PresentationInfo,
    Purchase,
    Reason,
    Rendition,
    SecurityLevel,
    Tier,
    decide,
)
from catalogue.model import AvailabilityWindow, FormatProfile, LicenseType, PriceTerms, Title

T0 = datetime(2025, 6, 1, tzinfo=UTC)
LADDER = (234, 360, 432, 540, 576, 720, 1080, 1440, 2160)
KIDS = {"AUDIO": "a-kid", "SD": "sd-kid", "HD": "hd-kid", "UHD": "uhd-kid"}
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def window(
    territory: str = "GB",
    license_type: LicenseType = LicenseType.SVOD,
    start: datetime = T0,
    end: datetime | None = T0 + timedelta(days=90),
    fmt: FormatProfile = FormatProfile.UHD,
    tier: str | None = None,
    excluded: list[str] | None = None,
    title_id: str = "t1",
    **kw: object,
) -> AvailabilityWindow:
    return AvailabilityWindow(
        title=Title(alid=f"alid-{title_id}", content_id=title_id),
        territory=territory,
        territories_excluded=excluded or [],
        license_type=license_type,
        format_profile=fmt,
        start=start,
        end=end,
        price=PriceTerms(tier=tier),
        **kw,
    )


def request(
    territory: str = "GB",
    tier: Tier | None = Tier(name="premium", max_height=2160),  # noqa: B008
    device_class: DeviceClass = DeviceClass.TV,
    registered: bool = True,
    level: SecurityLevel = SecurityLevel.WIDEVINE_L1,
    device_max_height: int | None = None,
) -> EntitlementRequest:
    return EntitlementRequest(
        title_id="t1",
        territory=territory,
        tier=tier,
        device=Device(
            device_class=device_class,
            registered=registered,
            security_level=level,
            max_height=device_max_height,
        ),
    )


def presentation(heights: tuple[int, ...] = LADDER) -> PresentationInfo:
    return PresentationInfo(
        title_id="t1",
        manifests={"hls": "https://cdn/t1/master.m3u8", "dash": "https://cdn/t1/manifest.mpd"},
        renditions=[Rendition(id=f"v{h}", kind="video", codecs="avc1", height=h) for h in heights]
        + [Rendition(id="a-en", kind="audio", codecs="mp4a.40.2")],
        kids=KIDS,
    )


def run(
    windows: list[AvailabilityWindow],
    now: datetime = T0 + timedelta(days=1),
    req: EntitlementRequest | None = None,
    purchases: list[Purchase] | None = None,
    pres: PresentationInfo | None = None,
    packaged: bool = True,
) -> Decision:
    return decide(
        req or request(),
        windows,
        purchases or [],
        (pres or presentation()) if packaged else None,
        now,
    )


def rental(purchased: datetime, first_play: datetime | None = None) -> Purchase:
    return Purchase(
        title_id="t1",
        license_type=LicenseType.TVOD,
        purchased_at=purchased,
        first_played_at=first_play,
    )


# -- worked examples -----------------------------------------------------------------------


def test_svod_subscriber_on_l1_tv_gets_uhd_with_hdcp_type1() -> None:
    d = run([window()])
    assert d.allowed and d.reason is None
    assert d.license_type == LicenseType.SVOD
    assert d.max_height == 2160
    assert d.manifests["hls"] == "https://cdn/t1/master.m3u8"
    assert "v2160" in d.renditions and "a-en" in d.renditions
    assert d.policy is not None
    assert d.policy.hdcp == "TYPE-1"
    assert d.policy.key_labels == ["AUDIO", "SD", "HD", "UHD"]
    assert d.policy.kids == KIDS
    assert d.policy.persistent is False
    assert d.policy.expires_at == T0 + timedelta(days=90)  # the window end


def test_software_cdm_is_capped_at_sd_without_hd_keys() -> None:
    d = run([window()], req=request(level=SecurityLevel.WIDEVINE_L3))
    assert d.allowed
    assert d.max_height == SOFTWARE_CDM_MAX_HEIGHT == 576
    assert d.caps["drm"] == 576
    assert d.renditions == ["v234", "v360", "v432", "v540", "v576", "a-en"]
    assert d.policy is not None
    assert d.policy.hdcp == "NONE"
    assert d.policy.key_labels == ["AUDIO", "SD"]
    assert set(d.policy.kids) == {"AUDIO", "SD"}


@pytest.mark.parametrize(
    ("level", "expected"),
    [("L1", 1080), ("SL3000", 1080), ("FairPlay", 1080), ("L2", 576), ("L3", 576),
     ("SL2000", 576), ("ClearKey", 576), ("software", 576)],
)  # fmt: skip
def test_hd_needs_hardware_backed_drm(level: str, expected: int) -> None:
    d = run([window(fmt=FormatProfile.HD)], req=request(level=SecurityLevel(level)))
    assert d.allowed and d.max_height == expected
    assert d.policy is not None
    assert d.policy.hdcp == ("TYPE-0" if expected == 1080 else "NONE")


def test_hd_rights_cap_uhd_device_and_hdcp_type0() -> None:
    d = run([window(fmt=FormatProfile.HD)])
    assert d.max_height == 1080 and d.caps["rights"] == 1080
    assert d.policy is not None
    assert d.policy.hdcp == "TYPE-0"
    assert d.policy.key_labels == ["AUDIO", "SD", "HD"]
    assert "v1440" not in d.renditions and "v1080" in d.renditions


def test_device_class_and_reported_display_cap() -> None:
    assert run([window()], req=request(device_class=DeviceClass.MOBILE)).max_height == 1080
    d = run([window()], req=request(device_max_height=720))
    assert d.max_height == 720 and d.caps["device"] == 720
    assert d.policy is not None
    assert d.policy.hdcp == "TYPE-0"  # 720p is HD


def test_no_rights_in_territory() -> None:
    d = run([window(territory="US")])
    assert not d.allowed and d.reason == Reason.NO_RIGHTS_IN_TERRITORY
    assert d.max_height is None and d.manifests == {} and d.policy is None


def test_worldwide_window_honours_exclusions() -> None:
    ww = [window(territory="WW", excluded=["GB", "IE"])]
    assert run(ww).reason == Reason.NO_RIGHTS_IN_TERRITORY
    assert run(ww, req=request(territory="FR")).allowed


def test_other_titles_windows_are_ignored() -> None:
    assert run([window(title_id="t2")]).reason == Reason.NO_RIGHTS_IN_TERRITORY


def test_window_not_open_and_closed() -> None:
    w = [window()]
    assert run(w, now=T0 - timedelta(seconds=1)).reason == Reason.WINDOW_NOT_OPEN
    assert run(w, now=T0).allowed  # start inclusive
    end = T0 + timedelta(days=90)
    assert run(w, now=end - timedelta(microseconds=1)).allowed
    assert run(w, now=end).reason == Reason.WINDOW_CLOSED  # end exclusive


def test_closed_window_with_a_future_one_reports_not_open() -> None:
    past = window(start=T0 - timedelta(days=60), end=T0 - timedelta(days=30))
    future = window(start=T0 + timedelta(days=30), end=None)
    assert run([past, future], now=T0).reason == Reason.WINDOW_NOT_OPEN
    assert run([past], now=T0).reason == Reason.WINDOW_CLOSED


def test_japan_window_opens_at_local_midnight() -> None:
    """Opens 2025-06-01 00:00 JST = 2025-05-31 15:00 UTC."""
    jst_midnight = datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    w = [window(territory="JP", start=jst_midnight.astimezone(UTC), end=None)]
    req = request(territory="JP")
    closed = run(w, req=req, now=datetime(2025, 5, 31, 14, 0, tzinfo=UTC))
    assert closed.reason == Reason.WINDOW_NOT_OPEN
    assert run(w, req=req, now=datetime(2025, 5, 31, 14, 59, 59, tzinfo=UTC)).reason == (
        Reason.WINDOW_NOT_OPEN
    )
    assert run(w, req=req, now=datetime(2025, 5, 31, 15, 0, tzinfo=UTC)).allowed
    # the same instant expressed in another zone decides the same way
    assert run(w, req=req, now=datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Tokyo"))).allowed


def test_pre_order_window_does_not_play() -> None:
    w = [window(license_type=LicenseType.POEST)]
    bought = [Purchase(title_id="t1", license_type=LicenseType.POEST, purchased_at=T0)]
    assert run(w, purchases=bought).reason == Reason.WINDOW_NOT_OPEN


def test_device_not_registered() -> None:
    d = run([window()], req=request(registered=False))
    assert d.reason == Reason.DEVICE_NOT_REGISTERED
    assert d.offers == [LicenseType.SVOD]


def test_tier_excludes_title() -> None:
    w = [window(tier="premium-plus")]
    assert run(w, req=request(tier=Tier(name="basic"))).reason == Reason.TIER_EXCLUDES_TITLE
    assert run(w, req=request(tier=None)).reason == Reason.TIER_EXCLUDES_TITLE
    assert run(w, req=request(tier=Tier(name="premium-plus"))).allowed
    both = Tier(name="family", includes=frozenset({"premium-plus", "kids"}), max_height=720)
    d = run(w, req=request(tier=both))
    assert d.allowed and d.max_height == 720 and d.caps["tier"] == 720


def test_tvod_needs_an_unexpired_rental() -> None:
    w = [window(license_type=LicenseType.TVOD, rental_duration_hours=720, watch_duration_hours=48)]
    now = T0 + timedelta(days=5)
    d = run(w, now=now)
    assert d.reason == Reason.NOT_PURCHASED and d.offers == [LicenseType.TVOD]

    fresh = run(w, now=now, purchases=[rental(now - timedelta(hours=1))])
    assert fresh.allowed and fresh.license_type == LicenseType.TVOD
    assert fresh.policy is not None
    assert fresh.policy.rental_duration_seconds == (720 - 1) * 3600
    assert fresh.policy.playback_duration_seconds == 48 * 3600
    assert fresh.policy.expires_at == now + timedelta(hours=719)

    watching = run(
        w, now=now, purchases=[rental(now - timedelta(hours=10), now - timedelta(hours=2))]
    )
    assert watching.allowed and watching.policy is not None
    assert watching.policy.playback_duration_seconds == 46 * 3600
    assert watching.policy.rental_duration_seconds == 46 * 3600  # the watch window ends first

    watched = [rental(now - timedelta(hours=60), now - timedelta(hours=48))]
    assert run(w, now=now, purchases=watched).reason == Reason.RENTAL_EXPIRED
    stale = [rental(now - timedelta(days=30))]
    assert run(w, now=now, purchases=stale).reason == Reason.RENTAL_EXPIRED
    # a second, newer rental revives it
    assert run(w, now=now, purchases=[*watched, rental(now - timedelta(minutes=5))]).allowed


def test_rental_licence_never_outlives_the_window() -> None:
    end = T0 + timedelta(days=2)
    w = [window(license_type=LicenseType.TVOD, end=end)]
    d = run(w, now=T0 + timedelta(days=1), purchases=[rental(T0 + timedelta(days=1))])
    assert d.policy is not None and d.policy.expires_at == end


def test_tier_cap_does_not_limit_a_rental() -> None:
    basic = Tier(name="basic", max_height=720)
    w = [window(), window(license_type=LicenseType.TVOD)]
    now = T0 + timedelta(days=1)
    sub = run(w, now=now, req=request(tier=basic))
    assert sub.license_type == LicenseType.SVOD and sub.max_height == 720
    # with a rental too, the grant with the higher cap wins
    d = run(w, now=now, req=request(tier=basic), purchases=[rental(now)])
    assert d.allowed and d.license_type == LicenseType.TVOD and d.max_height == 2160
    assert "tier" not in d.caps


def test_est_purchase_plays_and_reason_priority() -> None:
    w = [window(license_type=LicenseType.EST), window(tier="premium-plus")]
    req = request(tier=Tier(name="basic"))
    # tier refusal beats not_purchased: upgrading is the nearer fix for a subscriber
    assert run(w, req=req).reason == Reason.TIER_EXCLUDES_TITLE
    owned = [Purchase(title_id="t1", license_type=LicenseType.EST, purchased_at=T0)]
    d = run(w, req=req, purchases=owned)
    assert d.allowed and d.license_type == LicenseType.EST
    other_title = [Purchase(title_id="t2", license_type=LicenseType.EST, purchased_at=T0)]
    assert not run(w, req=req, purchases=other_title).allowed


def test_avod_plays_without_subscription() -> None:
    d = run([window(license_type=LicenseType.AVOD, fmt=FormatProfile.SD)], req=request(tier=None))
    assert d.allowed and d.max_height == 576


def test_not_packaged_and_no_playable_rendition() -> None:
    assert run([window()], packaged=False).reason == Reason.NOT_PACKAGED
    d = run(
        [window()],
        req=request(level=SecurityLevel.WIDEVINE_L3),
        pres=presentation(heights=(720, 1080)),
    )
    assert d.reason == Reason.NO_PLAYABLE_RENDITION


def test_hdcp_follows_what_can_be_played() -> None:
    d = run([window()], pres=presentation(heights=(360, 720, 1080)))
    assert d.max_height == 2160
    assert d.policy is not None
    assert d.policy.hdcp == "TYPE-0" and d.policy.key_labels == ["AUDIO", "SD", "HD"]


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        decide(request(), [window()], [], presentation(), datetime(2025, 6, 2))


# -- properties ------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650))
nudges = st.sampled_from([timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)])
avod = LicenseType.AVOD


@PROPS
@given(start=moments, length=durations, offset=durations, nudge=nudges, edge=st.integers(0, 2))
def test_window_is_start_inclusive_end_exclusive(
    start: datetime, length: timedelta, offset: timedelta, nudge: timedelta, edge: int
) -> None:
    end = start + length
    now = [start, end, start + offset][edge] + nudge
    d = run([window(license_type=avod, start=start, end=end)], now=now)
    assert d.allowed == (start <= now < end)
    if not d.allowed:
        assert d.reason == (Reason.WINDOW_NOT_OPEN if now < start else Reason.WINDOW_CLOSED)


@PROPS
@given(start=moments, offset=durations, nudge=nudges)
def test_open_ended_window_never_closes(
    start: datetime, offset: timedelta, nudge: timedelta
) -> None:
    d = run([window(license_type=avod, start=start, end=None)], now=start + offset + nudge)
    assert d.allowed


territories = st.sampled_from(["GB", "IE", "FR", "DE", "US", "JP", "BR", "ZA", "IN", "AU"])


@PROPS
@given(
    here=territories,
    sold=st.sampled_from(["WW", "GB", "FR", "US"]),
    excluded=st.lists(territories, max_size=5),
)
def test_territory_and_exclusions(here: str, sold: str, excluded: list[str]) -> None:
    d = run([window(territory=sold, excluded=excluded)], req=request(territory=here))
    covered = (sold == "WW" or sold == here) and here not in excluded
    assert d.allowed == covered
    if not covered:
        assert d.reason == Reason.NO_RIGHTS_IN_TERRITORY


zones = st.sampled_from(
    ["Asia/Tokyo", "Europe/London", "America/Los_Angeles", "Australia/Sydney",
     "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "UTC"]
)  # fmt: skip


@PROPS
@given(zone=zones, day=st.dates(min_value=datetime(2001, 1, 1).date(),
                                max_value=datetime(2039, 1, 1).date()))  # fmt: skip
def test_local_midnight_opening_in_any_zone(zone: str, day: object) -> None:
    """The importer turns a zone-less date into local midnight; decide compares instants."""
    local_midnight = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))  # type: ignore[arg-type]
    w = [window(license_type=avod, start=local_midnight.astimezone(UTC), end=None)]
    tick = timedelta(microseconds=1)
    assert run(w, now=local_midnight.astimezone(UTC) - tick).reason == Reason.WINDOW_NOT_OPEN
    assert run(w, now=local_midnight.astimezone(UTC)).allowed
    assert run(w, now=local_midnight).allowed  # same instant, local zone


@PROPS
@given(
    fmt=st.sampled_from(list(FormatProfile)),
    license_type=st.sampled_from([LicenseType.SVOD, LicenseType.TVOD, LicenseType.AVOD]),
    tier_cap=st.integers(144, 4320),
    device_class=st.sampled_from(list(DeviceClass)),
    display=st.none() | st.integers(144, 4320),
    level=st.sampled_from(list(SecurityLevel)),
    heights=st.lists(st.sampled_from(LADDER), min_size=1, max_size=9, unique=True),
)
def test_resolution_never_exceeds_any_cap(
    fmt: FormatProfile,
    license_type: LicenseType,
    tier_cap: int,
    device_class: DeviceClass,
    display: int | None,
    level: SecurityLevel,
    heights: list[int],
) -> None:
    now = T0 + timedelta(days=1)
    req = request(
        tier=Tier(name="plan", max_height=tier_cap),
        device_class=device_class,
        level=level,
        device_max_height=display,
    )
    pres = presentation(tuple(sorted(heights)))
    d = run([window(license_type=license_type, fmt=fmt)], now=now, req=req, pres=pres,
            purchases=[rental(now)])  # fmt: skip
    caps = [FORMAT_MAX_HEIGHT[fmt], DEVICE_MAX_HEIGHT[device_class]]
    caps += [display] if display else []
    caps += [tier_cap] if license_type == LicenseType.SVOD else []
    caps += [] if level in HARDWARE_BACKED else [576]
    if not d.allowed:
        assert d.reason == Reason.NO_PLAYABLE_RENDITION
        assert min(heights) > min(caps)
        return
    assert d.max_height == min(caps)
    played = sorted(h for h in heights if f"v{h}" in d.renditions)
    assert played == sorted(h for h in heights if h <= min(caps))
    assert d.policy is not None
    top = max(played)
    assert d.policy.hdcp == ("NONE" if top <= 576 else "TYPE-0" if top <= 1080 else "TYPE-1")
    assert ("HD" in d.policy.key_labels) == (top > 576)
    assert ("UHD" in d.policy.key_labels) == (top > 1080)


aware_any = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones.map(ZoneInfo)
)


@PROPS
@given(
    now=aware_any,
    start=aware_any,
    end=st.none() | aware_any,
    purchased=aware_any,
    played=st.none() | aware_any,
    rent=st.none() | st.integers(1, 10**6),
    watch=st.none() | st.integers(1, 10**6),
    license_type=st.sampled_from(list(LicenseType)),
)
def test_decide_never_raises_on_extreme_times(
    now: datetime,
    start: datetime,
    end: datetime | None,
    purchased: datetime,
    played: datetime | None,
    rent: int | None,
    watch: int | None,
    license_type: LicenseType,
) -> None:
    w = window(license_type=license_type, start=start, end=end, rental_duration_hours=rent,
               watch_duration_hours=watch)  # fmt: skip
    d = run([w], now=now, purchases=[rental(purchased, played)])
    assert d.allowed or d.reason is not None
    if d.allowed:
        assert d.policy is not None
        assert d.policy.rental_duration_seconds is None or d.policy.rental_duration_seconds >= 0
