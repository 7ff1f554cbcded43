"""What the catalogue shows the API, the CLI and the storefront: plain models, no queries.

`catalogue.store` builds them; they are re-exported there (`store.TitleDetail`), which is how
callers name them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

from catalogue.model import FormatProfile, LicenseType, Localization
from catalogue.money import rounded


class Offer(BaseModel):
    """An open window as a storefront shows it, including which language version it sells."""

    license_type: LicenseType
    format_profile: FormatProfile
    hdr: bool = False
    tier: str | None = None
    srp: Decimal | None = None
    currency: str | None = None
    start: datetime
    end: datetime | None = None
    language: str | None = None  # the licensed version (BCP 47); None = any language
    localization: Localization | None = None  # sub/dub/subdub when the rights say so

    @model_validator(mode="after")
    def _to_minor_unit(self) -> Offer:
        """3.49 GBP, not PostgreSQL's numeric(12, 4) "3.4900"."""
        if self.srp is not None:
            self.srp = rounded(self.srp, self.currency)
        return self


class CatalogueEntry(BaseModel):
    title_id: str
    name: str | None = None
    kind: str | None = None
    offers: list[Offer]
    packaged: bool  # a presentation is recorded: playable once entitled
    max_height: int | None = None  # tallest packaged rendition


class WindowView(Offer):
    open: bool  # at the requested time
    territory: str  # the window's own territory (a region code such as WW covers many)
    rental_duration_hours: int | None = None
    watch_duration_hours: int | None = None
    languages: list[str] = Field(default_factory=list)  # AllowedLanguage


class PresentationView(BaseModel):
    manifests: dict[str, str]
    renditions: list[dict[str, Any]]
    duration: float | None = None
    drm: dict[str, Any] | None = None
    updated_at: datetime


class TitleDetail(BaseModel):
    title_id: str
    name: str | None = None
    kind: str | None = None
    eidr: str | None = None
    run_length_seconds: int | None = None
    territory: str
    at: datetime
    available: bool  # at least one window open here at `at`
    windows: list[WindowView]  # every window covering the territory: past, open and future
    presentation: PresentationView | None = None


def version_label(offer: Offer) -> str:
    """How a listing names the language version: "fr (dub)", "en", or "any"."""
    language = offer.language or "any"
    return f"{language} ({offer.localization})" if offer.localization else language
