"""Rights, normalised: what every import format (Avails XML/XLSX, our JSON sidecar) turns into.

Plain data shared by the importers, the catalogue store and the entitlement decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

# A title id as URLs, sessions and CMCD `cid` name it (`Title.content_id` unless mapped).
TITLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~@+-]{0,199}$"


class LicenseType(StrEnum):
    SVOD = "SVOD"
    TVOD = "TVOD"  # rental; Avails LicenseType "VOD"
    EST = "EST"  # electronic sell-through (purchase)
    AVOD = "AVOD"
    FVOD = "FVOD"
    POEST = "POEST"


class FormatProfile(StrEnum):
    SD = "SD"
    HD = "HD"
    UHD = "UHD"


class Localization(StrEnum):
    """How a licensed version carries its language (Avails LocalizationType in spreadsheets,
    LocalizationOffering in XML): subtitled, dubbed, or both. "any" is no restriction: None."""

    SUB = "sub"
    DUB = "dub"
    SUBDUB = "subdub"


def localization_of(text: str | None) -> Localization | None:
    """The localisation type from Avails text (any case); blank or "any" -> None.

    Raises ValueError for anything else, worded for a RowError.
    """
    value = (text or "").strip().casefold()
    if value in ("", "any"):
        return None
    try:
        return Localization(value)
    except ValueError:
        raise ValueError("unknown localisation type (sub, dub, subdub or any)") from None


class Title(BaseModel):
    alid: str  # Avails ALID (the rights id)
    content_id: str  # partner content id (also our default title id when none is mapped)
    eidr: str | None = None
    name: str | None = None
    kind: str | None = None  # Avails AvailType: single, episode, season, series...
    run_length_seconds: int | None = None


# What the catalogue's Money column holds (numeric(12, 4), `catalogue.tables.Money`). Prices are
# brought to it when a file is parsed, so a row that cannot be stored is a RowError on every
# backend instead of a PostgreSQL overflow that rolls back the whole file, and both backends
# store the same rounded value.
MONEY_DIGITS, MONEY_PLACES = 12, 4
MAX_MONEY = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)  # exclusive


def storable_money(amount: Decimal) -> Decimal:
    """`amount` as the catalogue stores it: rounded to MONEY_PLACES half up (as PostgreSQL
    rounds numeric input); ValueError, worded for a RowError, when it is negative, not finite
    or too large for the column."""
    if not amount.is_finite() or amount < 0:
        raise ValueError("not a non-negative amount")
    if amount >= MAX_MONEY:
        raise ValueError(f"too large: a price must be below {MAX_MONEY:,}")
    stored = amount.quantize(Decimal(1).scaleb(-MONEY_PLACES), rounding=ROUND_HALF_UP)
    if stored >= MAX_MONEY:
        raise ValueError(f"too large: a price must be below {MAX_MONEY:,}")
    return amount if stored == amount else stored  # "3.49" stays as written


# Integer columns are int4 on PostgreSQL; rental and watch durations are also added to dates.
MAX_RUN_LENGTH_SECONDS = 2**31 - 1
MAX_DURATION_HOURS = 10 * 366 * 24  # ten years: longer is a typo, and dates stay in range


class PriceTerms(BaseModel):
    tier: str | None = None  # SVOD tier or TVOD price tier
    srp: Decimal | None = None  # suggested retail price
    wsp: Decimal | None = None  # wholesale price
    currency: str | None = None  # ISO 4217


class AvailabilityWindow(BaseModel):
    """One licence: title x territory x licence type x format x language version, over
    [start, end).

    `start`/`end` are timezone-aware UTC; a date without a zone in the source is local to the
    territory and has been converted with zoneinfo. `end=None` is open-ended.
    `language` is the licensed version's language (Avails AssetLanguage, one BCP 47 tag) and
    `localization` how it is localised (sub/dub): a dubbed version is its own licence, so both
    are part of the identity. `language=None` means any language. `languages` is the Avails
    AllowedLanguage list (languages the version may be fulfilled in), not part of the identity.
    """

    title: Title
    territory: str  # ISO 3166-1 alpha-2, upper case
    territories_excluded: list[str] = Field(default_factory=list)  # when territory is a region
    license_type: LicenseType
    format_profile: FormatProfile = FormatProfile.HD
    hdr: bool = False
    start: datetime  # aware, UTC
    end: datetime | None = None  # aware, UTC; None = open
    price: PriceTerms = Field(default_factory=PriceTerms)
    rental_duration_hours: int | None = None  # TVOD: from rental to expiry
    watch_duration_hours: int | None = None  # TVOD: from first play to expiry
    languages: list[str] = Field(default_factory=list)  # AllowedLanguage
    language: str | None = None  # AssetLanguage (BCP 47); None = any language
    localization: Localization | None = None  # sub/dub/subdub; None = not stated / any
    source: str | None = None  # file and row/element it came from

    def key(self) -> tuple:
        """Identity for idempotent re-import: same licence -> same key (dub and sub differ)."""
        return (
            self.title.alid,
            self.territory,
            self.license_type.value,
            self.format_profile.value,
            self.hdr,
            self.language or "",
            self.localization.value if self.localization else "",
            self.start.astimezone(UTC).isoformat(),
        )


class RowError(BaseModel):
    """A rejected row: names the file, the row or element, the field and the bad value."""

    file: str
    location: str  # "row 14" (XLSX) or "Avail[3]/Transaction[1]" (XML)
    field: str
    value: str | None
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.field}={self.value!r}: {self.problem}"


class ImportResult(BaseModel):
    windows: list[AvailabilityWindow] = Field(default_factory=list)
    errors: list[RowError] = Field(default_factory=list)
