"""May this subscriber play this title, here, now, on this device, and at what quality?

`decide` is a pure function of its arguments (no clock, no I/O), so the HTTP API, the bench and
property-based tests all exercise the same rule set. Rules, in the order a denial is reported:

1. rights in the territory: a window for the title whose territory is the subscriber's, or a
   region containing it (`WW`) without the subscriber's territory in `territories_excluded`;
   when the request names a language, only windows offering it count (the window's own
   `language` or one of its allowed `languages`; a window naming neither is for any language);
   a request without one is language-blind;
2. a playable window open now: `start <= now < end` (start inclusive, end exclusive, `end=None`
   open-ended). Pre-order (POEST) windows sell, they never play;
3. the device is registered;
4. the commercial path, per open window: AVOD/FVOD for anyone, SVOD when the subscriber's tier
   includes the window's tier, TVOD with a rental that has not expired, EST with a purchase;
5. the title is packaged and has a video rendition within the resolution cap.

Resolution cap (picture height) = the lowest of: the tier cap (SVOD grants only: a rental or
purchase is not limited by the subscription plan), the window's format profile (SD 576, HD 1080,
UHD 2160), the device class (and the display the device reports), and the DRM security level.
Software CDMs (Widevine L2/L3, PlayReady SL2000/SL150, ClearKey) are capped at **576**, not 480:
keys are released per label and the SD key covers every rendition up to 576 lines
(drm/keys.py), so 576 is the lowest cap a licence server can actually enforce; a 480 cap would
be a manifest filter the client could ignore. HD and above need hardware-backed security
(Widevine L1, PlayReady SL3000, FairPlay).

Ownership outliving an EST window (a "digital locker") is not modelled: playback needs an open
window in the subscriber's territory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from catalogue.model import AvailabilityWindow, FormatProfile, LicenseType

# Region codes a window may carry instead of a country; None = every territory.
REGIONS: dict[str, frozenset[str] | None] = {"WW": None}

FORMAT_MAX_HEIGHT: dict[FormatProfile, int] = {
    FormatProfile.SD: 576,
    FormatProfile.HD: 1080,
    FormatProfile.UHD: 2160,
}
SD_MAX_HEIGHT = 576  # top of the SD key band (drm/keys.py)
HD_MAX_HEIGHT = 1080  # top of the HD key band
SOFTWARE_CDM_MAX_HEIGHT = SD_MAX_HEIGHT
DEFAULT_RENTAL_HOURS = 30 * 24  # TVOD terms missing from the avail: the common 30 days...
DEFAULT_WATCH_HOURS = 48  # ...and 48 hours from first play
PLAYABLE = frozenset(LicenseType) - {LicenseType.POEST}


class DeviceClass(StrEnum):
    TV = "tv"
    STB = "stb"
    CONSOLE = "console"
    DESKTOP = "desktop"
    TABLET = "tablet"
    MOBILE = "mobile"


DEVICE_MAX_HEIGHT: dict[DeviceClass, int] = {
    DeviceClass.TV: 2160,
    DeviceClass.STB: 2160,
    DeviceClass.CONSOLE: 2160,
    DeviceClass.DESKTOP: 1080,
    DeviceClass.TABLET: 1080,
    DeviceClass.MOBILE: 1080,
}


class SecurityLevel(StrEnum):
    """The CDM's robustness as the licence request reports it."""

    WIDEVINE_L1 = "L1"
    WIDEVINE_L2 = "L2"
    WIDEVINE_L3 = "L3"
    PLAYREADY_SL3000 = "SL3000"
    PLAYREADY_SL2000 = "SL2000"
    PLAYREADY_SL150 = "SL150"
    FAIRPLAY = "FairPlay"
    CLEARKEY = "ClearKey"
    SOFTWARE = "software"


HARDWARE_BACKED = frozenset(
    {SecurityLevel.WIDEVINE_L1, SecurityLevel.PLAYREADY_SL3000, SecurityLevel.FAIRPLAY}
)


class Reason(StrEnum):
    NO_RIGHTS_IN_TERRITORY = "no_rights_in_territory"
    NO_RIGHTS_IN_LANGUAGE = "no_rights_in_language"  # rights here, not for the asked version
    WINDOW_NOT_OPEN = "window_not_open"
    WINDOW_CLOSED = "window_closed"
    DEVICE_NOT_REGISTERED = "device_not_registered"
    TIER_EXCLUDES_TITLE = "tier_excludes_title"
    NOT_PURCHASED = "not_purchased"
    RENTAL_EXPIRED = "rental_expired"
    NOT_PACKAGED = "not_packaged"  # rights but no presentation recorded yet
    NO_PLAYABLE_RENDITION = "no_playable_rendition"  # every video rendition is above the cap


# When several open windows each deny, the most specific reason wins.
_COMMERCIAL_PRIORITY = (Reason.RENTAL_EXPIRED, Reason.TIER_EXCLUDES_TITLE, Reason.NOT_PURCHASED)

Hdcp = Literal["NONE", "TYPE-0", "TYPE-1"]  # HLS HDCP-LEVEL spelling


class Tier(BaseModel):
    """The subscriber's plan: which window tiers it includes and its resolution cap."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64)
    includes: frozenset[str] = frozenset()  # window tiers (PriceTerms.tier); own name implied
    max_height: int = Field(default=2160, ge=1, le=8640)

    def covers(self, window_tier: str | None) -> bool:
        return window_tier is None or window_tier == self.name or window_tier in self.includes


class Device(BaseModel):
    model_config = ConfigDict(frozen=True)

    device_class: DeviceClass
    registered: bool
    security_level: SecurityLevel
    max_height: int | None = Field(default=None, ge=1, le=8640)  # the display, when reported


class EntitlementRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    title_id: str = Field(min_length=1, max_length=200)
    territory: str = Field(pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
    tier: Tier | None = None  # None: no subscription
    device: Device
    language: str | None = Field(  # None: any version will do (the decision ignores language)
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        description="BCP 47 tag of the language version wanted, e.g. fr or fr-CA",
    )  # fmt: skip


class Purchase(BaseModel):
    """A rental (TVOD) or a purchase (EST, POEST pre-order) the subscriber holds."""

    model_config = ConfigDict(frozen=True)

    title_id: str = Field(min_length=1, max_length=200)
    license_type: Literal[LicenseType.TVOD, LicenseType.EST, LicenseType.POEST]
    purchased_at: AwareDatetime
    first_played_at: AwareDatetime | None = None


class Rendition(BaseModel):
    id: str
    kind: str
    codecs: str = ""
    width: int | None = None
    height: int | None = None
    bandwidth: int | None = None


class PresentationInfo(BaseModel):
    """What packaging produced, as far as a playback decision cares."""

    title_id: str
    manifests: dict[str, str] = Field(default_factory=dict)  # protocol -> URL
    renditions: list[Rendition] = Field(default_factory=list)
    kids: dict[str, str] = Field(default_factory=dict)  # key label -> KID (uuid)


class LicencePolicy(BaseModel):
    """What the licence server should put in the licence."""

    license_type: LicenseType
    expires_at: datetime | None  # window end / rental expiry, whichever first; None = open
    rental_duration_seconds: int | None  # from now until the rental expires (TVOD)
    playback_duration_seconds: int | None  # once playback starts (TVOD watch window)
    hdcp: Hdcp
    persistent: bool = False  # streaming licences are never stored offline
    key_labels: list[str]  # AUDIO/SD/HD/UHD keys the licence may carry
    kids: dict[str, str] = Field(default_factory=dict)


class Decision(BaseModel):
    allowed: bool
    reason: Reason | None = None  # set when denied
    title_id: str
    license_type: LicenseType | None = None  # the path that granted playback
    max_height: int | None = None
    caps: dict[str, int] = Field(default_factory=dict)  # cap source -> height, explains max
    manifests: dict[str, str] = Field(default_factory=dict)
    renditions: list[str] = Field(default_factory=list)  # ids the player may select
    policy: LicencePolicy | None = None
    offers: list[LicenseType] = Field(default_factory=list)  # open windows, when denied


# -- pure helpers shared with the store ----------------------------------------------------


def territory_applies(window_territory: str, excluded: Iterable[str], territory: str) -> bool:
    """Does a window sold for `window_territory` cover a subscriber in `territory`?"""
    if territory in excluded:
        return False
    if window_territory == territory:
        return True
    if window_territory in REGIONS:
        members = REGIONS[window_territory]
        return members is None or territory in members
    return False


def territory_codes(territory: str) -> list[str]:
    """Window territories that may cover `territory` (for SQL pre-filtering)."""
    regions = [r for r, members in REGIONS.items() if members is None or territory in members]
    return [territory, *regions]


def _tags_match(a: str, b: str) -> bool:
    """Same tag, or one a more specific form of the other (fr matches fr-CA, either way)."""
    a, b = a.casefold(), b.casefold()
    return a == b or a.startswith(f"{b}-") or b.startswith(f"{a}-")


def offers_language(window: AvailabilityWindow, language: str) -> bool:
    """May the window be played in `language`: its licensed version (Avails AssetLanguage) or
    a language it may be fulfilled in (AllowedLanguage)? Naming neither means any language."""
    tags = [t for t in (window.language, *window.languages) if t]
    return not tags or any(_tags_match(tag, language) for tag in tags)


def is_open_span(start: datetime, end: datetime | None, now: datetime) -> bool:
    """[start, end): start inclusive, end exclusive, `end=None` never closes."""
    return start <= now and (end is None or now < end)


def is_open(window: AvailabilityWindow, now: datetime) -> bool:
    return is_open_span(window.start, window.end, now)


def hdcp_for(max_height: int) -> Hdcp:
    if max_height <= SD_MAX_HEIGHT:
        return "NONE"
    return "TYPE-0" if max_height <= HD_MAX_HEIGHT else "TYPE-1"


def key_labels_for(max_height: int) -> list[str]:
    labels = ["AUDIO", "SD"]
    if max_height > SD_MAX_HEIGHT:
        labels.append("HD")
    if max_height > HD_MAX_HEIGHT:
        labels.append("UHD")
    return labels


def _plus_hours(t: datetime, hours: int) -> datetime | None:
    """t + hours, or None (never) when it would pass year 9999."""
    try:
        return t + timedelta(hours=hours)
    except OverflowError:
        return None


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def _seconds(until: datetime | None, now: datetime) -> int | None:
    return None if until is None else max(0, int((until - now).total_seconds()))


# -- the decision --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Grant:
    window: AvailabilityWindow
    expires_at: datetime | None = None  # None: never
    rental_expires_at: datetime | None = None
    playback_seconds: int | None = None

    def expiry_key(self) -> datetime:
        return self.expires_at or _NEVER


_NEVER = datetime.max.replace(tzinfo=UTC)


def _rental(
    window: AvailabilityWindow, purchases: Sequence[Purchase], now: datetime
) -> _Grant | Reason:
    """The longest-lasting unexpired rental, or why there is none."""
    rentals = [p for p in purchases if p.license_type == LicenseType.TVOD and p.purchased_at <= now]
    if not rentals:
        return Reason.NOT_PURCHASED
    rent_h = window.rental_duration_hours or DEFAULT_RENTAL_HOURS
    watch_h = window.watch_duration_hours or DEFAULT_WATCH_HOURS
    live: list[_Grant] = []
    for p in rentals:
        rental_end = _plus_hours(p.purchased_at, rent_h)
        watch_end = _plus_hours(p.first_played_at, watch_h) if p.first_played_at else None
        expiry = _earliest(rental_end, watch_end)
        if expiry is not None and now >= expiry:
            continue
        playback = _seconds(watch_end, now) if p.first_played_at else watch_h * 3600
        live.append(_Grant(window, _earliest(expiry, window.end), expiry, playback))
    return max(live, key=_Grant.expiry_key) if live else Reason.RENTAL_EXPIRED


def _commercial(
    window: AvailabilityWindow, request: EntitlementRequest, purchases: Sequence[Purchase],
    now: datetime,
) -> _Grant | Reason:  # fmt: skip
    lt = window.license_type
    if lt in (LicenseType.AVOD, LicenseType.FVOD):
        return _Grant(window, window.end)
    if lt == LicenseType.SVOD:
        if request.tier is not None and request.tier.covers(window.price.tier):
            return _Grant(window, window.end)
        return Reason.TIER_EXCLUDES_TITLE
    if lt == LicenseType.TVOD:
        return _rental(window, purchases, now)
    owned = any(
        p.license_type in (LicenseType.EST, LicenseType.POEST) and p.purchased_at <= now
        for p in purchases
    )
    return _Grant(window, window.end) if owned else Reason.NOT_PURCHASED


def _caps(request: EntitlementRequest, window: AvailabilityWindow) -> dict[str, int]:
    device = request.device
    device_cap = DEVICE_MAX_HEIGHT[device.device_class]
    if device.max_height is not None:
        device_cap = min(device_cap, device.max_height)
    caps = {"rights": FORMAT_MAX_HEIGHT[window.format_profile], "device": device_cap}
    if device.security_level not in HARDWARE_BACKED:
        caps["drm"] = SOFTWARE_CDM_MAX_HEIGHT
    if window.license_type == LicenseType.SVOD and request.tier is not None:
        caps["tier"] = request.tier.max_height
    return caps


def _denied(
    request: EntitlementRequest, reason: Reason, offers: Iterable[LicenseType] = ()
) -> Decision:
    return Decision(
        allowed=False, reason=reason, title_id=request.title_id, offers=sorted(set(offers))
    )


def decide(
    request: EntitlementRequest,
    windows: Sequence[AvailabilityWindow],
    purchases: Sequence[Purchase],
    presentation: PresentationInfo | None,
    now: datetime,
) -> Decision:
    """The playback decision for `request` at `now` (aware). Windows and purchases of other
    titles are ignored, so callers may pass a wider set."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    mine = [w for w in windows if w.title.content_id == request.title_id]
    here = [
        w for w in mine if territory_applies(w.territory, w.territories_excluded, request.territory)
    ]
    if not here:
        return _denied(request, Reason.NO_RIGHTS_IN_TERRITORY)
    if request.language is not None:
        here = [w for w in here if offers_language(w, request.language)]
        if not here:
            return _denied(request, Reason.NO_RIGHTS_IN_LANGUAGE)
    playable = [w for w in here if w.license_type in PLAYABLE]
    open_now = [w for w in playable if is_open(w, now)]
    if not open_now:
        upcoming = not playable or any(w.start > now for w in playable)
        return _denied(request, Reason.WINDOW_NOT_OPEN if upcoming else Reason.WINDOW_CLOSED)
    offers = [w.license_type for w in open_now]
    if not request.device.registered:
        return _denied(request, Reason.DEVICE_NOT_REGISTERED, offers)

    bought = [p for p in purchases if p.title_id == request.title_id]
    grants: list[_Grant] = []
    refusals: list[Reason] = []
    for w in open_now:
        outcome = _commercial(w, request, bought, now)
        (grants if isinstance(outcome, _Grant) else refusals).append(outcome)
    if not grants:
        reason = next(r for r in _COMMERCIAL_PRIORITY if r in refusals)
        return _denied(request, reason, offers)
    if presentation is None:
        return _denied(request, Reason.NOT_PACKAGED)

    def rank(g: _Grant) -> tuple[int, datetime]:
        return min(_caps(request, g.window).values()), g.expiry_key()

    grant = max(grants, key=rank)
    caps = _caps(request, grant.window)
    max_height = min(caps.values())
    video = [r for r in presentation.renditions if r.kind == "video"]
    fitting = [r for r in video if r.height is not None and r.height <= max_height]
    if video and not fitting:
        return _denied(request, Reason.NO_PLAYABLE_RENDITION)
    # Protect what can actually be played: the tallest rendition within the cap.
    top = max((r.height or 0 for r in fitting), default=max_height)
    labels = key_labels_for(top)
    policy = LicencePolicy(
        license_type=grant.window.license_type,
        expires_at=grant.expires_at.astimezone(UTC) if grant.expires_at else None,
        rental_duration_seconds=_seconds(grant.rental_expires_at, now),
        playback_duration_seconds=grant.playback_seconds,
        hdcp=hdcp_for(top),
        key_labels=labels,
        kids={lb: kid for lb, kid in presentation.kids.items() if lb in labels},
    )
    fitting_ids = {r.id for r in fitting}
    return Decision(
        allowed=True,
        title_id=request.title_id,
        license_type=grant.window.license_type,
        max_height=max_height,
        caps=caps,
        manifests=dict(presentation.manifests),
        renditions=[
            r.id for r in presentation.renditions if r.kind != "video" or r.id in fitting_ids
        ],
        policy=policy,
    )
