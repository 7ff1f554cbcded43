"""EMA Avails spreadsheets (v1.7-1.9, Movies and TV sheets) -> AvailabilityWindow.

Layout (checked against the MovieLabs samples): row 1 groups columns (Avail, AvailTrans,
AvailAsset...), row 2 holds the field names (Territory, LicenseType, Start, End, ALID...),
row 3 is the spec version plus "//REQ" / "//Opt" notes, data follows. We find the header as
the first row naming Territory, LicenseType and Start, skip blank rows and "//" note rows,
and read one window per data row. Each row becomes the same `RawTransaction` an XML
Transaction does, so the rules (and error wording) are those of catalogue.avails.rules.

Columns read: ALID; ContentID (TV: Episode/Season/Series/VolumeContentID by WorkType);
EIDR from EditID/TitleID or EIDR-EDIT/EIDR-TITLE (TV: EpisodeID/EpisodeTitleID, SeasonID,
SeriesID); title from *TitleDisplayUnlimited / *TitleInternalAlias; WorkType; TotalRunTime;
Territory; TerritoryExclusion; LicenseType; LicenseRightsDescription; FormatProfile; HDR;
Start; End (a word such as Open/ESTStart/Immediate is a condition); EndLag; PriceType +
PriceValue + PriceCurrency; SRP; RentalDuration / WatchDuration (hours); AssetLanguage and
LocalizationType (the licensed version: a dub row is its own window); AllowedLanguages (comma
separated). Errors name the sheet, the 1-based row Excel shows and the column letter.

Opening the workbook: we refuse zips that inflate past a limit or whose XML parts carry a
DOCTYPE (openpyxl without defusedxml would expand entities), before openpyxl sees them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from catalogue.avails.rules import build_transaction, resolve_drafts
from catalogue.avails.transaction import Draft, RawTerm, RawTransaction
from catalogue.model import ImportResult, RowError
from core.errors import PipelineError

MAX_INFLATED_BYTES = 256 * 1024 * 1024  # all parts together, decompressed
HEADER_SEARCH_ROWS = 20
_REQUIRED_HEADERS = ("Territory", "LicenseType", "Start")
_DOCTYPE_MARKERS = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_MONEY_PRICE_TYPES = frozenset({"WSP", "SRP", "DMRP", "SMRP"})
_PRICE_TYPES = _MONEY_PRICE_TYPES | {"Tier", "Category", "LicenseFee", "NA"}
_LIST_SPLIT = re.compile(r"[,;\s]+")

# XML field names (as build_transaction reports them) -> spreadsheet column names.
_LABELS = {
    "TerritoryExcluded": "TerritoryExclusion",
    "StartCondition": "Start",
    "EndCondition": "End",
    "EndCondition/@lag": "EndLag",
    "FormatProfile/@HDR": "HDR",
    "AllowedLanguage": "AllowedLanguages",
    "LocalizationOffering": "LocalizationType",
    "RunLength": "TotalRunTime",
}
_KIND = {
    "movie": "single",
    "episode": "episode",
    "season": "season",
    "series": "series",
    "volume": "volume",
    "collection": "collection",
    "supplemental": "supplement",
}
_TV_LEVEL = {"episode": "Episode", "season": "Season", "series": "Series", "volume": "Volume"}


def _fail(source: str, cause: str) -> PipelineError:
    return PipelineError(source, cause, stage="rights")


def check_workbook_zip(data: bytes, source: str) -> None:
    """Refuse zip bombs and DOCTYPEs in the package's XML parts (XXE, entity expansion)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_INFLATED_BYTES:
                raise _fail(source, f"refused: the workbook inflates past {MAX_INFLATED_BYTES} B")
            for member in members:
                if member.filename.endswith((".xml", ".rels", ".vml")):
                    content = archive.read(member)
                    if any(marker in content for marker in _DOCTYPE_MARKERS):
                        raise _fail(
                            source,
                            f"refused: workbook part {member.filename} has a DOCTYPE "
                            "(DTDs and entities are not allowed in OOXML)",
                        )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise _fail(source, f"not a readable XLSX workbook: {exc}") from None


def parse_avails_xlsx(data: bytes, source: str) -> ImportResult:
    """Windows and row errors from every Avails sheet of an XLSX workbook."""
    check_workbook_zip(data, source)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged package
        raise _fail(source, f"not a readable XLSX workbook: {exc}") from None
    drafts: list[Draft] = []
    errors: list[RowError] = []
    found_sheet = False
    try:
        for sheet in workbook.worksheets:
            table = _find_table(sheet.iter_rows(values_only=True))
            if table is None:
                continue
            found_sheet = True
            header, rows = table
            for number, row in rows:
                if _is_blank(row) or _is_note(row, header):
                    continue
                location = f"sheet '{sheet.title}' row {number}"
                good, bad = build_transaction(_row_transaction(source, location, row, header))
                drafts.extend(good)
                errors.extend(_with_column(error, header) for error in bad)
    finally:
        workbook.close()
    if not found_sheet:
        raise _fail(
            source,
            "no Avails sheet found (no header row naming Territory, LicenseType and Start "
            f"in the first {HEADER_SEARCH_ROWS} rows of any sheet)",
        )
    return ImportResult(windows=resolve_drafts(drafts), errors=errors)


def _find_table(
    rows: Iterator[Sequence[object]],
) -> tuple[dict[str, int], Iterator[tuple[int, Sequence[object]]]] | None:
    """The header (name -> column index) and the numbered rows after it, if any."""
    numbered = enumerate(rows, 1)
    for number, row in numbered:
        if number > HEADER_SEARCH_ROWS:
            return None
        header = _header(row)
        if header is not None:
            return header, numbered
    return None


def _with_column(error: RowError, header: dict[str, int]) -> RowError:
    """Add the column letter Excel shows when the error's field is a column."""
    index = header.get(error.field)
    if index is None:
        return error
    return error.model_copy(update={"location": f"{error.location}, column {column_letter(index)}"})


def column_letter(index: int) -> str:
    """Excel's letter for a 0-based column index."""
    return get_column_letter(index + 1)


def _header(row: Sequence[object]) -> dict[str, int] | None:
    names: dict[str, int] = {}
    for index, value in enumerate(row):
        if isinstance(value, str) and value.strip():
            names.setdefault(value.strip(), index)
    return names if all(h in names for h in _REQUIRED_HEADERS) else None


def _is_blank(row: Sequence[object]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _is_note(row: Sequence[object], header: dict[str, int]) -> bool:
    """The "//REQ" / "//Opt" annotation row under the header."""
    for name in ("Territory", "LicenseType"):
        value = _cell(row, header, name)
        if isinstance(value, str) and value.strip().startswith("//"):
            return True
    return False


def _cell(row: Sequence[object], header: dict[str, int], name: str) -> object:
    index = header.get(name)
    return row[index] if index is not None and index < len(row) else None


def cell_text(value: object) -> str | None:
    """A cell as text: integral floats lose '.0', blanks become None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _first(row: Sequence[object], header: dict[str, int], *names: str) -> str | None:
    for name in names:
        text = cell_text(_cell(row, header, name))
        if text:
            return text
    return None


def _list(row: Sequence[object], header: dict[str, int], name: str) -> list[str]:
    text = cell_text(_cell(row, header, name))
    return [part for part in _LIST_SPLIT.split(text) if part] if text else []


def _date_or_condition(value: object) -> tuple[object, str | None]:
    """Spreadsheets put both in one column: a word without digits (Open) is a condition."""
    if isinstance(value, str) and value.strip() and not any(c.isdigit() for c in value):
        return None, value.strip()
    return value, None


def _row_transaction(
    source: str, location: str, row: Sequence[object], header: dict[str, int]
) -> RawTransaction:
    work_type = _first(row, header, "WorkType") or ""
    level = _TV_LEVEL.get(work_type.casefold())
    labels = dict(_LABELS)
    problems: list[tuple[str, str | None, str]] = []
    content_columns = ["ContentID"]
    eidr_columns = ["EditID", "EIDR-EDIT", "TitleID", "EIDR-TITLE"]
    name_columns = ["TitleDisplayUnlimited", "TitleInternalAlias"]
    if level:  # TV sheet: the row's own level first, then the levels above it
        content_columns = [f"{level}ContentID", *content_columns]
        eidr_columns = [f"{level}ID", f"{level}TitleID", *eidr_columns]
        name_columns = [f"{level}TitleDisplayUnlimited", f"{level}TitleInternalAlias"]
        for upper in ("Season", "Series"):
            name_columns += [f"{upper}TitleDisplayUnlimited", f"{upper}TitleInternalAlias"]
    content_column = next((c for c in content_columns if _first(row, header, c)), None)
    labels["Asset/@contentID"] = content_column or content_columns[0]
    start, start_condition = _date_or_condition(_cell(row, header, "Start"))
    end, end_condition = _date_or_condition(_cell(row, header, "End"))
    terms = _terms(row, header, problems)
    content_id = _first(row, header, *content_columns)
    return RawTransaction(
        file=source,
        location=location,
        alid=_first(row, header, "ALID"),
        content_id=content_id,
        eidr_candidates=[t for t in (_first(row, header, c) for c in eidr_columns) if t]
        + ([content_id] if content_id else []),
        name=_first(row, header, *name_columns),
        kind=_KIND.get(work_type.casefold(), work_type.casefold() or None),
        run_length=_cell(row, header, "TotalRunTime"),
        license_type=_first(row, header, "LicenseType"),
        territories=_list(row, header, "Territory"),
        territories_excluded=_list(row, header, "TerritoryExclusion"),
        start=start,
        start_condition=start_condition,
        end=end,
        end_condition=end_condition,
        end_lag=_first(row, header, "EndLag"),
        format_profile=_first(row, header, "FormatProfile"),
        hdr=_first(row, header, "HDR"),
        allowed_languages=_list(row, header, "AllowedLanguages"),
        asset_languages=_list(row, header, "AssetLanguage"),
        localization=_first(row, header, "LocalizationType"),
        rights_description=_first(row, header, "LicenseRightsDescription"),
        terms=terms,
        labels=labels,
        problems=problems,
    )


def _terms(
    row: Sequence[object], header: dict[str, int], problems: list[tuple[str, str | None, str]]
) -> list[RawTerm]:
    """PriceType/PriceValue, SRP and the rental durations, as the XML Terms they stand for."""
    terms: list[RawTerm] = []
    currency = _first(row, header, "PriceCurrency")
    price_type = _first(row, header, "PriceType")
    price_value = _first(row, header, "PriceValue")
    if price_type and price_type not in _PRICE_TYPES:
        known = ", ".join(sorted(_PRICE_TYPES))
        problems.append(("PriceType", price_type, f"unknown price type (known: {known})"))
    elif price_type:
        kind = "Money" if price_type in _MONEY_PRICE_TYPES else "Text"
        terms.append(RawTerm(price_type, kind, price_value, currency, label="PriceValue"))
    elif price_value:
        problems.append(("PriceType", None, "missing while PriceValue is set"))
    srp = _first(row, header, "SRP")
    if srp:
        terms.append(RawTerm("SRP", "Money", srp, currency, label="SRP"))
    for name in ("RentalDuration", "WatchDuration"):
        value = _first(row, header, name)
        if value:
            kind = "Duration" if value.upper().startswith("P") else "Number"
            terms.append(RawTerm(name, kind, value, label=name))
    return terms
