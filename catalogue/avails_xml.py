"""EMA / MovieLabs Avails XML v2.x -> AvailabilityWindow, plus the transaction rules.

The rules (`RawTransaction` -> windows or RowErrors) live here because XML is the canonical
Avails form: the spreadsheet reader maps each row onto the same `RawTransaction`, exactly as
MovieLabs maps XLSX columns to XML elements, so both carriers validate identically.

Rules, per transaction (the unit of acceptance: any error rejects all its windows):
- one window per Territory (md:country: ISO 3166-1 alpha-2, or WW); TerritoryExcluded kept;
- LicenseType EST, VOD (-> TVOD rental), SVOD, POEST, AVOD, FVOD, TVOD; anything else errs;
- Start: xs:dateTime or date; with an offset it is honoured, without one it is local to the
  territory (see catalogue.territories). StartCondition `Immediate` -> IMMEDIATE_START.
- End is the exclusive upper bound, taken literally (the samples' date-only Ends equal the
  next window's Start). EndCondition `Open` -> None; `ESTStart` (POEST) -> the Start of the
  matching EST window in the same file (same ALID, territory, format), plus any `lag`, or
  None when the file has no such window; End must be after Start;
- FormatProfile SD/HD/UHD, its HDR attribute (true/HDR10/DV) -> hdr;
- AllowedLanguage / AssetLanguage must be BCP 47 tags; LicenseRightsDescription must be in
  the Avails vocabulary (the validator's list);
- Terms: SRP / WSP (Money, currency attribute), Tier / Category -> price tier,
  RentalDuration / WatchDuration (xs:duration or hours). Other terms are not modelled.
Title: ALID, Asset@contentID (both required), first EIDR found (EditEIDR-URN, TitleEIDR-URN,
an EIDR AltIdentifier, an EIDR contentID), title name, AvailType, RunLength.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from lxml import etree

from catalogue.model import (
    AvailabilityWindow,
    FormatProfile,
    ImportResult,
    LicenseType,
    PriceTerms,
    RowError,
    Title,
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
from core.xml_safety import parse_xml

AVAILS_NAMESPACE_PREFIX = "http://www.movielabs.com/schema/avails/v2"
MAX_XML_BYTES = 64 * 1024 * 1024  # large studio extracts run to tens of MB

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
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_EIDR = re.compile(
    r"(?:10\.5240[/:]|eidr-s:)([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}-[0-9A-Z])(?![0-9A-Z-])", re.I
)


@dataclass(frozen=True)
class RawTerm:
    """One Avails Term as read: `kind` is the value element (Money, Text, Number, Duration)."""

    name: str
    kind: str
    value: str | None
    currency: str | None = None
    label: str = ""  # how errors name it; default "Term[<name>]"


@dataclass
class RawTransaction:
    """One transaction before validation: an XML Transaction or one spreadsheet row.

    Values are as found (text, or spreadsheet cell values for dates and run length).
    `labels` maps the XML field names used here to the carrier's own (column names).
    `problems` are (field, value, problem) the carrier found itself; they reject the row.
    """

    file: str
    location: str
    alid: str | None = None
    content_id: str | None = None
    eidr_candidates: list[str] = field(default_factory=list)
    name: str | None = None
    kind: str | None = None
    run_length: object = None
    license_type: str | None = None
    territories: list[str] = field(default_factory=list)
    territories_excluded: list[str] = field(default_factory=list)
    start: object = None
    start_condition: str | None = None
    end: object = None
    end_condition: str | None = None
    end_lag: str | None = None
    format_profile: str | None = None
    hdr: str | None = None
    allowed_languages: list[str] = field(default_factory=list)
    asset_languages: list[str] = field(default_factory=list)
    rights_description: str | None = None
    terms: list[RawTerm] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    """A validated window whose End may still wait on the file (EndCondition ESTStart)."""

    window: AvailabilityWindow
    end_on_est_start: bool = False
    end_lag: timedelta = timedelta(0)


class _Errors:
    """Collects RowErrors for one transaction, naming fields the carrier's way."""

    def __init__(self, tx: RawTransaction):
        self.tx = tx
        self.items: list[RowError] = []

    def add(self, name: str, value: object, problem: str) -> None:
        label = self.tx.labels.get(name, name)
        shown = None if value is None else _show(value)
        self.items.append(
            RowError(
                file=self.tx.file, location=self.tx.location, field=label, value=shown,
                problem=problem,
            )
        )  # fmt: skip


def _show(value: object) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# --- value parsers (pure; raise ValueError with a message fit for a RowError) -----------


def parse_when(value: object) -> datetime:
    """A datetime (naive = zone-less) from xs:dateTime / xs:date text or a cell value."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        "unparseable date (expected e.g. 2026-03-01T00:00:00, optionally with Z or +hh:mm, "
        "or 2026-03-01)"
    )


def parse_duration(text: str) -> timedelta:
    """xs:duration with days, hours, minutes, seconds (years/months have no fixed length)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError("not an xs:duration of days/hours/minutes/seconds (e.g. PT48H, P2D)")
    return timedelta(
        days=int(match["d"] or 0),
        hours=int(match["h"] or 0),
        minutes=int(match["m"] or 0),
        seconds=float(match["s"] or 0),
    )


def parse_run_length(value: object) -> int:
    """Seconds from RunLength (PT1H37M49S), a cell time, h:mm:ss or mm:ss (the TV samples)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        text = value.strip()
        if text.upper().startswith("P"):
            return int(parse_duration(text.upper()).total_seconds())
        parts = text.split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            nums = [int(p) for p in parts]
            hours, minutes, seconds = [0, *nums] if len(nums) == 2 else nums
            if minutes < 60 and seconds < 60:
                return hours * 3600 + minutes * 60 + seconds
    raise ValueError("unparseable run length (expected PT1H37M49S, h:mm:ss or mm:ss)")


def parse_hours(kind: str, text: str) -> int:
    """Whole hours from an xs:duration (Duration terms) or a number of hours."""
    if kind == "Duration" or text.strip().upper().startswith("P"):
        seconds = parse_duration(text.upper()).total_seconds()
    else:
        try:
            seconds = float(Decimal(text.strip()) * 3600)
        except InvalidOperation:
            raise ValueError("not a number of hours or an xs:duration") from None
    if seconds <= 0 or seconds % 3600:
        raise ValueError("must be a positive whole number of hours")
    return int(seconds // 3600)


def parse_money(text: str) -> Decimal:
    """A non-negative finite decimal amount."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("not a non-negative amount")
    return amount


def normalise_eidr(text: str) -> str | None:
    """Canonical 10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C from URN, DOI or md:cid:eidr-s forms."""
    match = _EIDR.search(text)
    return f"10.5240/{match[1].upper()}" if match else None


def clean_text(text: str | None) -> str | None:
    """Collapse the whitespace XML pretty-printing puts inside titles; '' -> None."""
    if text is None:
        return None
    return " ".join(text.split()) or None


# --- transaction rules -------------------------------------------------------------------


def build_transaction(tx: RawTransaction) -> tuple[list[Draft], list[RowError]]:
    """Validate one transaction: a Draft per territory, or only the errors that reject it."""
    errs = _Errors(tx)
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
    _languages(tx.asset_languages, "AssetLanguage", errs)
    _rights_description(tx, errs)
    price, rental, watch = _terms(tx, errs)
    start, end, end_on_est, lag = _dates(tx, errs)
    windows: list[Draft] = []
    for territory in territories:
        span = _to_utc(start, end, territory, tx, errs)
        if errs.items or title is None or license_type is None or span is None:
            continue
        windows.append(
            Draft(
                window=AvailabilityWindow(
                    title=title, territory=territory, territories_excluded=excluded,
                    license_type=license_type, format_profile=profile, hdr=hdr,
                    start=span[0], end=span[1], price=price, rental_duration_hours=rental,
                    watch_duration_hours=watch, languages=languages,
                    source=f"{tx.file}: {tx.location}",
                ),
                end_on_est_start=end_on_est,
                end_lag=lag,
            )
        )  # fmt: skip
    if errs.items:
        return [], errs.items
    return windows, []


def _title(tx: RawTransaction, errs: _Errors) -> Title | None:
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


def _license_type(tx: RawTransaction, errs: _Errors) -> LicenseType | None:
    raw = clean_text(tx.license_type)
    if not raw:
        errs.add("LicenseType", None, "missing")
        return None
    found = LICENSE_TYPES.get(raw.upper())
    if found is None:
        errs.add("LicenseType", raw, f"unknown licence type (known: {', '.join(LICENSE_TYPES)})")
    return found


def _territories(codes: Iterable[str], name: str, errs: _Errors) -> list[str]:
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


def _format_profile(tx: RawTransaction, errs: _Errors) -> FormatProfile:
    raw = clean_text(tx.format_profile)
    if not raw:
        errs.add("FormatProfile", None, "missing (SD, HD or UHD)")
        return FormatProfile.HD
    try:
        return FormatProfile(raw.upper())
    except ValueError:
        errs.add("FormatProfile", raw, "unsupported format profile (SD, HD or UHD)")
        return FormatProfile.HD


def _hdr(tx: RawTransaction, errs: _Errors) -> bool:
    raw = clean_text(tx.hdr)
    if raw is None or raw.casefold() in _HDR_FALSE:
        return False
    if raw.casefold() in _HDR_TRUE:
        return True
    errs.add("FormatProfile/@HDR", raw, "unknown HDR value (true, HDR10, DV or false)")
    return False


def _languages(tags: Iterable[str], name: str, errs: _Errors) -> list[str]:
    good: list[str] = []
    for tag in tags:
        problem = language_tag_problem(tag or "")
        if problem:
            errs.add(name, tag, problem)
        elif normalise_language_tag(tag) not in good:
            good.append(normalise_language_tag(tag))
    return good


def _rights_description(tx: RawTransaction, errs: _Errors) -> None:
    raw = clean_text(tx.rights_description)
    if raw and raw.casefold() not in RIGHTS_DESCRIPTIONS:
        errs.add(
            "LicenseRightsDescription", raw,
            "not in the Avails vocabulary (e.g. New Release, Library, Early EST, Preorder EST)",
        )  # fmt: skip


def _terms(tx: RawTransaction, errs: _Errors) -> tuple[PriceTerms, int | None, int | None]:
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
    tx: RawTransaction, errs: _Errors
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
    errs: _Errors,
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
        errs.add("End", tx.end, f"End is not after Start ({_show(tx.start)})")
        return None
    return start_utc, end_utc


def resolve_drafts(drafts: list[Draft]) -> list[AvailabilityWindow]:
    """Final windows in input order; EndCondition ESTStart takes the matching EST Start."""
    est_starts: dict[tuple, list[datetime]] = {}
    for draft in drafts:
        w = draft.window
        if w.license_type is LicenseType.EST:
            key = (w.title.alid, w.territory, w.format_profile, w.hdr)
            est_starts.setdefault(key, []).append(w.start)
    out: list[AvailabilityWindow] = []
    for draft in drafts:
        w = draft.window
        if draft.end_on_est_start:
            key = (w.title.alid, w.territory, w.format_profile, w.hdr)
            later = [s for s in est_starts.get(key, []) if s > w.start]
            if later:
                w = w.model_copy(update={"end": min(later) + draft.end_lag})
        out.append(w)
    return out


# --- the XML carrier ---------------------------------------------------------------------


def is_avails_root(root: etree._Element) -> bool:
    """True when the root element is in an Avails v2.x namespace."""
    namespace = etree.QName(root).namespace or ""
    return namespace.startswith(AVAILS_NAMESPACE_PREFIX)


def parse_avails_xml(data: bytes, source: str) -> ImportResult:
    """Parse Avails XML bytes safely (no DOCTYPE/entities/network) into windows and errors."""
    return avails_from_root(parse_xml(data, source, max_bytes=MAX_XML_BYTES), source)


def avails_from_root(root: etree._Element, source: str) -> ImportResult:
    """Windows and row errors from an already safely parsed Avails root element."""
    qname = etree.QName(root)
    if not is_avails_root(root):
        raise PipelineError(
            source, f"not an Avails v2.x document (root element is {qname.text})", stage="rights"
        )
    if qname.localname == "Avail":
        avails = [root]
    else:
        avails = list(root.iter(f"{{{qname.namespace}}}Avail"))
    if not avails:
        raise PipelineError(source, "the Avails document holds no Avail element", stage="rights")
    drafts: list[Draft] = []
    errors: list[RowError] = []
    for i, avail in enumerate(avails, 1):
        alid = clean_text(_text(_child(avail, "ALID")))
        where = f"Avail[{i}] ALID={alid}" if alid else f"Avail[{i}]"
        transactions = _children(avail, "Transaction")
        if not transactions:
            errors.append(RowError(file=source, location=where, field="Transaction", value=None,
                                   problem="the Avail has no Transaction"))  # fmt: skip
        asset = _child(avail, "Asset")
        for j, element in enumerate(transactions, 1):
            raw = _raw_transaction(source, f"{where}/Transaction[{j}]", avail, asset, element)
            good, bad = build_transaction(raw)
            drafts.extend(good)
            errors.extend(bad)
    return ImportResult(windows=resolve_drafts(drafts), errors=errors)


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    return None if element is None else element.find(f"{{*}}{name}")


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else element.findall(f"{{*}}{name}")


def _text(element: etree._Element | None) -> str | None:
    return None if element is None else (element.text or "")


_METADATA = ("Metadata", "EpisodeMetadata", "SeasonMetadata", "SeriesMetadata", "VolumeMetadata")
_NAMES = (
    "TitleDisplayUnlimited", "TitleInternalAlias", "VolumeTitleDisplayUnlimited",
    "VolumeTitleInternalAlias", "SeasonTitleDisplayUnlimited", "SeasonTitleInternalAlias",
    "SeriesTitleDisplayUnlimited", "SeriesTitleInternalAlias",
)  # fmt: skip
_EIDR_ELEMENTS = (
    "EditEIDR-URN", "TitleEIDR-URN", "VolumeEIDR-URN", "SeasonEIDR-URN", "SeriesEIDR-URN",
)  # fmt: skip


def _asset_metadata(asset: etree._Element | None) -> etree._Element | None:
    for name in _METADATA:
        found = _child(asset, name)
        if found is not None:
            return found
    return None


def _asset_name(meta: etree._Element | None) -> str | None:
    """The asset's own title; a season without one takes its series' title."""
    while meta is not None:
        for name in _NAMES:
            text = clean_text(_text(_child(meta, name)))
            if text:
                return text
        season = _child(meta, "SeasonMetadata")
        meta = season if season is not None else _child(meta, "SeriesMetadata")
    return None


def _eidr_candidates(asset: etree._Element | None, meta: etree._Element | None) -> list[str]:
    found = [_text(_child(meta, name)) or "" for name in _EIDR_ELEMENTS]
    for alt in meta if meta is not None else []:
        if isinstance(alt.tag, str) and etree.QName(alt).localname.endswith("AltIdentifier"):
            namespace = (_text(_child(alt, "Namespace")) or "").casefold()
            identifier = _text(_child(alt, "Identifier")) or ""
            if "eidr" in namespace:
                found.append(identifier if "10.5240" in identifier else f"10.5240/{identifier}")
    if asset is not None:
        found.append(asset.get("contentID") or "")
    return [f for f in found if f]


def _region_codes(elements: list[etree._Element]) -> list[str]:
    codes = []
    for region in elements:
        code = _text(_child(region, "country")) or _text(_child(region, "countryRegion"))
        codes.append(code or "")
    return codes


def _raw_transaction(
    source: str,
    location: str,
    avail: etree._Element,
    asset: etree._Element | None,
    tx: etree._Element,
) -> RawTransaction:
    meta = _asset_metadata(asset)
    profile = _child(tx, "FormatProfile")
    end_condition = _child(tx, "EndCondition")
    terms = []
    for term in _children(tx, "Term"):
        value = next((c for c in term if isinstance(c.tag, str)), None)
        terms.append(
            RawTerm(
                name=(term.get("termName") or "").strip(),
                kind=etree.QName(value).localname if value is not None else "",
                value=_text(value),
                currency=value.get("currency") if value is not None else None,
            )
        )
    return RawTransaction(
        file=source,
        location=location,
        alid=_text(_child(avail, "ALID")),
        content_id=asset.get("contentID") if asset is not None else None,
        eidr_candidates=_eidr_candidates(asset, meta),
        name=_asset_name(meta),
        kind=_text(_child(avail, "AvailType")),
        run_length=_text(_child(meta, "RunLength")),
        license_type=_text(_child(tx, "LicenseType")),
        territories=_region_codes(_children(tx, "Territory")),
        territories_excluded=_region_codes(_children(tx, "TerritoryExcluded")),
        start=_text(_child(tx, "Start")),
        start_condition=_text(_child(tx, "StartCondition")),
        end=_text(_child(tx, "End")),
        end_condition=_text(end_condition),
        end_lag=end_condition.get("lag") if end_condition is not None else None,
        format_profile=_text(profile),
        hdr=profile.get("HDR") if profile is not None else None,
        allowed_languages=[_text(e) or "" for e in _children(tx, "AllowedLanguage")],
        asset_languages=[_text(e) or "" for e in _children(tx, "AssetLanguage")],
        rights_description=_text(_child(tx, "LicenseRightsDescription")),
        terms=terms,
    )
