"""TMF620-style product offerings: the SVOD tiers and the TVOD price tiers found in the avails.

The SVOD tiers are the operator's commercial plans, fixed here. They are kept consistent with the
playback rules: Standard allows 2 registered devices and 3 concurrent streams (the playback
issue's "fourth concurrent stream on a three-stream tier" is refused on Standard).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from catalogue.entitlement import Tier
from catalogue.store import CatalogueEntry


class SvodOffering(BaseModel):
    """A subscription tier: monthly price per currency, quality cap and usage limits."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    tier: str  # catalogue window tier it maps to (PriceTerms.tier)
    includes: tuple[str, ...] = ()  # lower window tiers it also covers
    monthly_price: dict[str, Decimal]  # currency -> price
    max_height: int
    concurrent_streams: int
    device_limit: int

    def entitlement_tier(self) -> Tier:
        """The catalogue's view of this plan, for `catalogue.entitlement.decide`."""
        return Tier(name=self.tier, includes=frozenset(self.includes), max_height=self.max_height)


class TvodPriceTier(BaseModel):
    """A one-off rental price seen in the avails for a territory."""

    tier: str | None
    price: Decimal
    currency: str | None
    titles: int


SVOD_OFFERINGS: tuple[SvodOffering, ...] = (
    SvodOffering(
        id="svod-basic", name="Basic", tier="basic",
        monthly_price={"GBP": Decimal("5.99"), "EUR": Decimal("6.99"), "USD": Decimal("6.99")},
        max_height=720, concurrent_streams=1, device_limit=1,
    ),
    SvodOffering(
        id="svod-standard", name="Standard", tier="standard", includes=("basic",),
        monthly_price={"GBP": Decimal("10.99"), "EUR": Decimal("12.99"), "USD": Decimal("15.49")},
        max_height=1080, concurrent_streams=3, device_limit=2,
    ),
    SvodOffering(
        id="svod-premium", name="Premium", tier="premium", includes=("basic", "standard"),
        monthly_price={"GBP": Decimal("17.99"), "EUR": Decimal("19.99"), "USD": Decimal("22.99")},
        max_height=2160, concurrent_streams=4, device_limit=5,
    ),
)  # fmt: skip

BY_ID = {o.id: o for o in SVOD_OFFERINGS}
BY_TIER = {o.tier: o for o in SVOD_OFFERINGS}


def find_offering(key: str) -> SvodOffering | None:
    """By offering id (`svod-standard`) or tier name (`standard`, any case)."""
    key = key.lower()
    return BY_ID.get(key) or BY_TIER.get(key) or BY_ID.get(f"svod-{key}")


def tvod_price_tiers(entries: list[CatalogueEntry]) -> list[TvodPriceTier]:
    """Distinct TVOD prices open in a territory's catalogue view, with how many titles use each."""
    counts: dict[tuple[str | None, Decimal, str | None], set[str]] = {}
    for entry in entries:
        for offer in entry.offers:
            if offer.license_type.value == "TVOD" and offer.srp is not None:
                counts.setdefault((offer.tier, offer.srp, offer.currency), set()).add(
                    entry.title_id
                )
    return [
        TvodPriceTier(tier=t, price=p, currency=c, titles=len(ids))
        for (t, p, c), ids in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0] or ""))
    ]
