"""EMA / MovieLabs Avails XML v2.x -> AvailabilityWindows and RowErrors.

Reads each Avail's Transactions into `RawTransaction`s (title metadata from the Asset, the
first EIDR found, the Asset's LocalizationOffering, territories, dates, format, languages,
terms) and hands them to the rules (`catalogue.avails.rules`). The document is parsed safely
(`core.xml_safety`: no DOCTYPE, entities or network); a document that is not Avails at all is
a PipelineError naming the file, problems inside one are RowErrors in the result.
"""

from __future__ import annotations

from lxml import etree

from catalogue.avails.rules import build_transaction, resolve_drafts
from catalogue.avails.transaction import Draft, RawTerm, RawTransaction
from catalogue.avails.values import clean_text
from catalogue.model import ImportResult, RowError
from core.errors import PipelineError
from core.xml_safety import parse_xml

AVAILS_NAMESPACE_PREFIX = "http://www.movielabs.com/schema/avails/v2"
MAX_XML_BYTES = 64 * 1024 * 1024  # large studio extracts run to tens of MB


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
        localization=_text(_child(meta, "LocalizationOffering")),
        rights_description=_text(_child(tx, "LicenseRightsDescription")),
        terms=terms,
    )
