"""The Avails transaction rules: `RawTransaction` -> AvailabilityWindows or RowErrors.

Both carriers (XML, `catalogue.avails.from_xml`; spreadsheets, `catalogue.avails.from_xlsx`)
map what they read onto the same `RawTransaction`, exactly as MovieLabs maps XLSX columns to
XML elements, so both validate identically and word their errors alike.

Rules, per transaction (the unit of acceptance: any error rejects all its windows):
- one window per Territory (md:country: ISO 3166-1 alpha-2, or WW) and AssetLanguage (the
  licensed version's language; none = any language); TerritoryExcluded kept;
- LicenseType EST, VOD (-> TVOD rental), SVOD, POEST, AVOD, FVOD, TVOD; anything else errs;
- Start: xs:dateTime or date; with an offset it is honoured, without one it is local to the
  territory (see catalogue.territories). StartCondition `Immediate` -> IMMEDIATE_START.
- End is the exclusive upper bound, taken literally (the samples' date-only Ends equal the
  next window's Start). EndCondition `Open` -> None; `ESTStart` (POEST) -> the Start of the
  matching EST window in the same file (same ALID, territory, format, language), plus any
  `lag`, or None when the file has no such window; End must be after Start;
- FormatProfile SD/HD/UHD, its HDR attribute (true/HDR10/DV) -> hdr;
- AllowedLanguage / AssetLanguage must be BCP 47 tags; LocalizationOffering (spreadsheets:
  LocalizationType) sub, dub, subdub or any (= not stated); LicenseRightsDescription must be
  in the Avails vocabulary (the validator's list);
- Terms: SRP / WSP (Money, currency attribute), Tier / Category -> price tier,
  RentalDuration / WatchDuration (xs:duration or hours). Other terms are not modelled.
Title: ALID, Asset@contentID (both required), first EIDR found (EditEIDR-URN, TitleEIDR-URN,
an EIDR AltIdentifier, an EIDR contentID), title name, AvailType, RunLength.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from catalogue.avails.transaction import Draft, RawTransaction, RowErrors, show
from catalogue.avails.values import (
    clean_text,
    normalise_eidr,
    parse_duration,
    parse_hours,
    parse_money,
    parse_run_length,
    parse_when,
)
from catalogue.model import (
    AvailabilityWindow,
    FormatProfile,
    LicenseType,
    Localization,
    PriceTerms,
    RowError,
    Title,
    localization_of,
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

# `StartCondition Immediate`: available from the moment of import. A fixed instant keeps
# re-imports idempotent (the key includes start) where "now" would not.
IMMEDIATE_START = datetime(1970, 1, 1, tzinfo=UTC)

LICENSE_TYPES: Mapping[str, LicenseType] = {
    "EST": LicenseType.EST,
    "VOD": LicenseType.TVOD,  # Avails VOD is a rental
    "TVOD": LicenseType.TVOD,
    "SVOD": LicenseType.SVOD,
    "AVOD": LicenseType.AVOD,
    "FVOD": LicenseType.FVOD,
    "POEST": LicenseType.POEST,
}

# LicenseRightsDescription vocabulary (MovieLabs validator), compared case-insensitively.
RIGHTS_DESCRIPTIONS = frozenset(
    s.casefold()
    for s in (
        "New Release", "Library", "Mega-Library", "Priority Library", "DD-Theatrical",
        "Pre-Theatrical", "DD-DVD", "DTV", "Early EST", "Preorder EST", "Early VOD",
        "Preorder VOD", "Free", "Next Day TV", "Season Only", "POD",
    )
)  # fmt: skip

_VALUED_TERMS = frozenset({"SRP", "WSP", "Tier", "Category", "RentalDuration", "WatchDuration"})
_HDR_TRUE = frozenset({"true", "yes", "y", "1", "hdr", "hdr10", "hdr10+", "dv", "dolbyvision"})
_HDR_FALSE = frozenset({"false", "no", "n", "0", "sdr"})
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def build_transaction(tx: RawTransaction) -> tuple[list[Draft], list[RowError]]:
    """Validate one transaction: a Draft per territory and asset language, or only the errors
    that reject it."""
    errs = RowErrors(tx)
    for name, value, problem in tx.problems:
        errs.add(name, value, problem)
    title = _title(tx, errs)
    license_type = _license_type(tx, errs)
    territories = _territories(tx.territories, "Territory", errs)
    if not tx.territories:
        errs.add("Territory", None, "missing: a transaction needs at least one Territory")
    excluded = _territories(tx.territories_excluded, "TerritoryExcluded", errs)
    profile = _format_profile(tx, errs)
    hdr = _hdr(tx, errs)
    languages = _languages(tx.allowed_languages, "AllowedLanguage", errs)
    versions: list[str | None] = _languages(tx.asset_languages, "AssetLanguage", errs) or [None]
    localization = _localization(tx, errs)
    _rights_description(tx, errs)
    price, rental, watch = _terms(tx, errs)
    start, end, end_on_est, lag = _dates(tx, errs)
    windows: list[Draft] = []
    for territory in territories:
        span = _to_utc(start, end, territory, tx, errs)
        if errs.items or title is None or license_type is None or span is None:
            continue
        windows.extend(
            Draft(
                window=AvailabilityWindow(
                    title=title, territory=territory, territories_excluded=excluded,
                    license_type=license_type, format_profile=profile, hdr=hdr,
                    start=span[0], end=span[1], price=price, rental_duration_hours=rental,
                    watch_duration_hours=watch, languages=languages, language=language,
                    localization=localization, source=f"{tx.file}: {tx.location}",
                ),
                end_on_est_start=end_on_est,
                end_lag=lag,
            )
            for language in versions
        )  # fmt: skip
    if errs.items:
        return [], errs.items
    return windows, []


def _title(tx: RawTransaction, errs: RowErrors) -> Title | None:
    alid = clean_text(tx.alid)
    content_id = clean_text(tx.content_id)
    if not alid:
        errs.add("ALID", None, "missing: every Avail needs an ALID (the rights id)")
    if not content_id:
        errs.add("Asset/@contentID", None, "missing: every Avail needs a content id")
    run_length = None
    if tx.run_length not in (None, ""):
        try:
            run_length = parse_run_length(tx.run_length)
        except ValueError as exc:
            errs.add("RunLength", tx.run_length, str(exc))
    eidr = next(filter(None, (normalise_eidr(c) for c in tx.eidr_candidates)), None)
    if not alid or not content_id:
        return None
    kind = clean_text(tx.kind)
    return Title(
        alid=alid, content_id=content_id, eidr=eidr, name=clean_text(tx.name),
        kind=kind.lower() if kind else None, run_length_seconds=run_length,
    )  # fmt: skip


def _license_type(tx: RawTransaction, errs: RowErrors) -> LicenseType | None:
    raw = clean_text(tx.license_type)
    if not raw:
        errs.add("LicenseType", None, "missing")
        return None
    found = LICENSE_TYPES.get(raw.upper())
    if found is None:
        errs.add("LicenseType", raw, f"unknown licence type (known: {', '.join(LICENSE_TYPES)})")
    return found


def _territories(codes: Iterable[str], name: str, errs: RowErrors) -> list[str]:
    """Valid codes, de-duplicated; exclusions must be countries, territories may be WW."""
    valid = is_territory if name == "Territory" else is_country
    good: list[str] = []
    for code in codes:
        norm = normalise_territory(code or "")
        if not norm:
            errs.add(name, code, "empty territory")
        elif "-" in norm:
            errs.add(name, code, "sub-national regions are not supported; use a country code")
        elif not valid(norm):
            errs.add(name, code, "not an ISO 3166-1 alpha-2 country code")
        elif norm not in good:
            good.append(norm)
    return good


def _format_profile(tx: RawTransaction, errs: RowErrors) -> FormatProfile:
    raw = clean_text(tx.format_profile)
    if not raw:
        errs.add("FormatProfile", None, "missing (SD, HD or UHD)")
        return FormatProfile.HD
    try:
        return FormatProfile(raw.upper())
    except ValueError:
        errs.add("FormatProfile", raw, "unsupported format profile (SD, HD or UHD)")
        return FormatProfile.HD


def _hdr(tx: RawTransaction, errs: RowErrors) -> bool:
    raw = clean_text(tx.hdr)
    if raw is None or raw.casefold() in _HDR_FALSE:
        return False
    if raw.casefold() in _HDR_TRUE:
        return True
    errs.add("FormatProfile/@HDR", raw, "unknown HDR value (true, HDR10, DV or false)")
    return False


def _languages(tags: Iterable[str], name: str, errs: RowErrors) -> list[str]:
    good: list[str] = []
    for tag in tags:
        problem = language_tag_problem(tag or "")
        if problem:
            errs.add(name, tag, problem)
        elif normalise_language_tag(tag) not in good:
            good.append(normalise_language_tag(tag))
    return good


def _localization(tx: RawTransaction, errs: RowErrors) -> Localization | None:
    try:
        return localization_of(tx.localization)
    except ValueError as exc:
        errs.add("LocalizationOffering", clean_text(tx.localization), str(exc))
        return None


def _rights_description(tx: RawTransaction, errs: RowErrors) -> None:
    raw = clean_text(tx.rights_description)
    if raw and raw.casefold() not in RIGHTS_DESCRIPTIONS:
        errs.add(
            "LicenseRightsDescription", raw,
            "not in the Avails vocabulary (e.g. New Release, Library, Early EST, Preorder EST)",
        )  # fmt: skip


def _terms(tx: RawTransaction, errs: RowErrors) -> tuple[PriceTerms, int | None, int | None]:
    amounts: dict[str, Decimal] = {}
    currencies: set[str] = set()
    tier: str | None = None
    hours: dict[str, int] = {}
    for term in tx.terms:
        label = term.label or f"Term[{term.name}]"
        value = clean_text(term.value)
        if value is None and term.name in _VALUED_TERMS:
            errs.add(label, None, f"{term.name} has no value")
            continue
        if term.name in ("SRP", "WSP"):
            try:
                amounts.setdefault(term.name, parse_money(value))
            except ValueError as exc:
                errs.add(label, value, str(exc))
            if term.currency:
                currency = term.currency.strip().upper()
                if _CURRENCY.match(currency):
                    currencies.add(currency)
                else:
                    errs.add(label, term.currency, "currency is not an ISO 4217 code")
        elif term.name == "Tier" or (term.name == "Category" and tier is None):
            tier = value  # a Tier term wins over a Category one
        elif term.name in ("RentalDuration", "WatchDuration"):
            try:
                hours[term.name] = parse_hours(term.kind, value)
            except ValueError as exc:
                errs.add(label, value, str(exc))
    if len(currencies) > 1:
        errs.add("Term", ", ".join(sorted(currencies)), "prices in more than one currency")
    price = PriceTerms(
        tier=tier, srp=amounts.get("SRP"), wsp=amounts.get("WSP"),
        currency=next(iter(currencies), None),
    )  # fmt: skip
    return price, hours.get("RentalDuration"), hours.get("WatchDuration")


def _dates(
    tx: RawTransaction, errs: RowErrors
) -> tuple[datetime | None, datetime | None, bool, timedelta]:
    """Start/End as found (naive = territory-local); End None = open or waiting on ESTStart."""
    start = end = None
    end_on_est = False
    lag = timedelta(0)
    if tx.start not in (None, ""):
        try:
            start = parse_when(tx.start)
        except ValueError as exc:
            errs.add("Start", tx.start, str(exc))
    elif clean_text(tx.start_condition):
        condition = clean_text(tx.start_condition)
        if condition and condition.casefold() == "immediate":
            start = IMMEDIATE_START
        else:
            errs.add("StartCondition", condition, "unsupported (only Immediate); send a Start")
    else:
        errs.add("Start", None, "missing: a transaction needs Start or StartCondition")
    if tx.end not in (None, ""):
        try:
            end = parse_when(tx.end)
        except ValueError as exc:
            errs.add("End", tx.end, str(exc))
    elif clean_text(tx.end_condition):
        condition = clean_text(tx.end_condition) or ""
        if condition.casefold() == "eststart":
            end_on_est = True
            if clean_text(tx.end_lag):
                try:
                    lag = parse_duration(tx.end_lag or "")
                except ValueError as exc:
                    errs.add("EndCondition/@lag", tx.end_lag, str(exc))
        elif condition.casefold() != "open":
            errs.add("EndCondition", condition, "unsupported (Open or ESTStart); send an End")
    else:
        errs.add("End", None, "missing: a transaction needs End or EndCondition (e.g. Open)")
    return start, end, end_on_est, lag


def _to_utc(
    start: datetime | None,
    end: datetime | None,
    territory: str,
    tx: RawTransaction,
    errs: RowErrors,
) -> tuple[datetime, datetime | None] | None:
    """UTC span for one territory; errors show the values as the file wrote them."""
    if start is None:
        return None
    try:
        start_utc = local_to_utc(start, territory)
        end_utc = local_to_utc(end, territory) if end is not None else None
    except NoZoneForTerritory as exc:
        errs.add("Start", tx.start, str(exc))
        return None
    if end_utc is not None and end_utc <= start_utc:
        errs.add("End", tx.end, f"End is not after Start ({show(tx.start)})")
        return None
    return start_utc, end_utc


def _est_match(w: AvailabilityWindow) -> tuple:
    """What a pre-order shares with the EST window that ends it: the same language version."""
    return (w.title.alid, w.territory, w.format_profile, w.hdr, w.language)


def resolve_drafts(drafts: list[Draft]) -> list[AvailabilityWindow]:
    """Final windows in input order; EndCondition ESTStart takes the matching EST Start."""
    est_starts: dict[tuple, list[datetime]] = {}
    for draft in drafts:
        w = draft.window
        if w.license_type is LicenseType.EST:
            est_starts.setdefault(_est_match(w), []).append(w.start)
    out: list[AvailabilityWindow] = []
    for draft in drafts:
        w = draft.window
        if draft.end_on_est_start:
            later = [s for s in est_starts.get(_est_match(w), []) if s > w.start]
            if later:
                w = w.model_copy(update={"end": min(later) + draft.end_lag})
        out.append(w)
    return out
