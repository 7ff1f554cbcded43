"""Our JSON rights sidecar: one title and its windows, dropped in the ingest bucket.

For titles we license ourselves (no studio Avails), a small JSON file beside the media:

    {
      "title_id": "tt-0042",                 # our title id (required)
      "alid": "md:alid:example.com:0042",    # rights id; defaults to title_id
      "name": "Example Title",               # optional: eidr, kind, run_length_seconds
      "windows": [
        {
          "territory": "GB",                 # ISO 3166-1 alpha-2 or WW (required)
          "territories_excluded": [],        # countries, with WW
          "license_type": "SVOD",            # SVOD TVOD EST AVOD FVOD POEST (required)
          "tier": "standard",                # SVOD plan or TVOD price tier
          "format_profile": "HD",            # SD HD UHD (default HD)
          "hdr": false,
          "start": "2026-01-01",             # date or datetime (required)
          "end": null,                       # null = open-ended; exclusive bound
          "price": {"srp": "4.99", "wsp": null, "currency": "GBP"},
          "rental_duration_hours": 48,       # TVOD only, whole hours
          "watch_duration_hours": 48,
          "languages": ["en", "fr-CA"],      # BCP 47: languages it may be fulfilled in
          "language": "fr-CA",               # optional: the licensed version (null = any)
          "localization": "dub"              # optional: sub, dub, subdub or any
        }
      ]
    }

Dates follow the Avails rule: with an offset (Z, +01:00) they are that instant, without one
they are local to the territory (catalogue.territories). A window without `language` is for
any language (files written before it existed keep working); windows that differ only in
`language` or `localization` are separate licences. Unknown keys are refused so typos
do not pass silently; duplicate keys are refused. A bad window yields RowErrors located
"windows[i]" (0-based, as in the JSON) and is skipped; a bad title part rejects the file's
windows. `sidecar_json_schema()` exports the schema for partners and editors.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from catalogue.model import (
    MAX_DURATION_HOURS,
    MAX_MONEY,
    MAX_RUN_LENGTH_SECONDS,
    AvailabilityWindow,
    FormatProfile,
    ImportResult,
    LicenseType,
    Localization,
    PriceTerms,
    RowError,
    Title,
    localization_of,
    storable_money,
)
from catalogue.territories import (
    NoZoneForTerritory,
    is_country,
    is_territory,
    language_tag_problem,
    local_to_utc,
    normalise_language_tag,
    normalise_territory,
)
from core.errors import PipelineError


def _territory(code: str) -> str:
    if not is_territory(code):
        raise ValueError("not an ISO 3166-1 alpha-2 country code (or WW)")
    return normalise_territory(code)


def _country(code: str) -> str:
    if not is_country(code):
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return normalise_territory(code)


def _language(tag: str) -> str:
    problem = language_tag_problem(tag)
    if problem:
        raise ValueError(problem)
    return normalise_language_tag(tag)


Territory = Annotated[str, AfterValidator(_territory)]
# What the catalogue's Money column can hold, rounded as it stores it (`storable_money`).
Price = Annotated[
    Decimal, Field(ge=0, lt=MAX_MONEY, allow_inf_nan=False), AfterValidator(storable_money)
]
Country = Annotated[str, AfterValidator(_country)]
Language = Annotated[str, AfterValidator(_language)]


class SidecarPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    srp: Price | None = None
    wsp: Price | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217")

    @model_validator(mode="after")
    def _currency_with_amount(self) -> SidecarPrice:
        if (self.srp is not None or self.wsp is not None) and self.currency is None:
            raise ValueError("currency is required when srp or wsp is given")
        return self


class SidecarWindow(BaseModel):
    """One licence window; dates are parsed here and placed in UTC by `sidecar_windows`."""

    model_config = ConfigDict(extra="forbid")

    territory: Territory
    territories_excluded: list[Country] = Field(default_factory=list)
    license_type: LicenseType
    tier: str | None = None
    format_profile: FormatProfile = FormatProfile.HD
    hdr: bool = False
    start: datetime = Field(description="ISO 8601 date or datetime; no offset = territory-local")
    end: datetime | None = Field(default=None, description="exclusive; null = open-ended")
    price: SidecarPrice = Field(default_factory=SidecarPrice)
    rental_duration_hours: int | None = Field(default=None, gt=0, le=MAX_DURATION_HOURS)
    watch_duration_hours: int | None = Field(default=None, gt=0, le=MAX_DURATION_HOURS)
    languages: list[Language] = Field(default_factory=list)
    language: Language | None = Field(default=None, description="licensed version; null = any")
    localization: Localization | None = Field(
        default=None, description="sub, dub, subdub; any=null"
    )

    @field_validator("localization", mode="before")
    @classmethod
    def _any_is_none(cls, value: Any) -> Any:
        """The Avails word "any" (no restriction) is the same as leaving it out."""
        return localization_of(value) if isinstance(value, str) else value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        """Accept only ISO 8601 text (no epoch numbers, which carry no zone intent)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("expected an ISO 8601 date or datetime string")
        return datetime.fromisoformat(value.strip()) if isinstance(value, str) else value


class _SidecarHead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_id: str = Field(min_length=1, description="our title id (Title.content_id)")
    alid: str | None = Field(default=None, min_length=1, description="rights id; default title_id")
    name: str | None = None
    eidr: str | None = None
    kind: str | None = None
    run_length_seconds: int | None = Field(default=None, gt=0, le=MAX_RUN_LENGTH_SECONDS)
    windows: list[Any]


class SidecarDocument(_SidecarHead):
    """The whole sidecar, as exported by `sidecar_json_schema`."""

    windows: list[SidecarWindow]


def sidecar_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the sidecar, for partners' tooling and editors."""
    schema = SidecarDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "vod-pipeline rights sidecar"
    return schema


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _errors(source: str, location: str, exc: ValidationError) -> list[RowError]:
    out = []
    for item in exc.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        value = item.get("input")
        shown = None if value is None or isinstance(value, dict | list) else str(value)
        out.append(
            RowError(
                file=source, location=location, field=path.lstrip(".") or "(document)",
                value=shown, problem=item["msg"].removeprefix("Value error, "),
            )
        )  # fmt: skip
    return out


def parse_sidecar(data: bytes, source: str) -> ImportResult:
    """Windows and per-window errors from sidecar JSON bytes; bad JSON raises PipelineError."""
    try:
        document = json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise PipelineError(source, f"not valid sidecar JSON: {exc}", stage="rights") from None
    if not isinstance(document, dict):
        raise PipelineError(source, "a sidecar must be a JSON object", stage="rights")
    try:
        head = _SidecarHead.model_validate(document)
    except ValidationError as exc:
        return ImportResult(errors=_errors(source, "$", exc))
    title = Title(
        alid=head.alid or head.title_id, content_id=head.title_id, eidr=head.eidr,
        name=head.name, kind=head.kind, run_length_seconds=head.run_length_seconds,
    )  # fmt: skip
    result = ImportResult()
    for index, raw in enumerate(head.windows):
        location = f"windows[{index}]"
        try:
            window = SidecarWindow.model_validate(raw)
        except ValidationError as exc:
            result.errors.extend(_errors(source, location, exc))
            continue
        built = sidecar_window(window, title, f"{source}: {location}")
        if isinstance(built, AvailabilityWindow):
            result.windows.append(built)
        else:
            field, problem = built
            value = raw.get(field) if isinstance(raw, dict) else None
            result.errors.append(
                RowError(
                    file=source, location=location, field=field,
                    value=None if value is None else str(value), problem=problem,
                )
            )  # fmt: skip
    return result


def sidecar_window(
    window: SidecarWindow, title: Title, source: str
) -> AvailabilityWindow | tuple[str, str]:
    """The normalised window, or (field, problem) when its dates cannot be placed."""
    try:
        start = local_to_utc(window.start, window.territory)
        end = local_to_utc(window.end, window.territory) if window.end else None
    except NoZoneForTerritory as exc:
        return "start", str(exc)
    if end is not None and end <= start:
        return "end", "end is not after start"
    return AvailabilityWindow(
        title=title,
        territory=window.territory,
        territories_excluded=window.territories_excluded,
        license_type=window.license_type,
        format_profile=window.format_profile,
        hdr=window.hdr,
        start=start,
        end=end,
        price=PriceTerms(
            tier=window.tier,
            srp=window.price.srp,
            wsp=window.price.wsp,
            currency=window.price.currency,
        ),  # fmt: skip
        rental_duration_hours=window.rental_duration_hours,
        watch_duration_hours=window.watch_duration_hours,
        languages=window.languages,
        language=window.language,
        localization=window.localization,
        source=source,
    )
