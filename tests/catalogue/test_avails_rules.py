"""The Avails rules on synthetic XML and spreadsheets (what the samples do not exercise),
hostile files, and choosing the format by content."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalogue.avails.from_xml import parse_avails_xml
from catalogue.importer import detect_format, import_bytes, import_file
from catalogue.model import FormatProfile, LicenseType
from core.errors import PipelineError
from tests.support.avails import (
    HEADER,
    MOVIES,
    XML_OK,
    make_workbook,
    needs_samples,
    xml_window_count,
)

# --- synthetic Avails XML for the rules the samples do not exercise --------------------

NS = (
    'xmlns:avails="http://www.movielabs.com/schema/avails/v2.4/avails" '
    'xmlns:md="http://www.movielabs.com/schema/md/v2.7/md"'
)


def transaction(
    *,
    license_type: str = "SVOD",
    territories: tuple[str, ...] = ("JP",),
    start: str = "<avails:Start>2026-03-01</avails:Start>",
    end: str = "<avails:EndCondition>Open</avails:EndCondition>",
    profile: str = "<avails:FormatProfile>HD</avails:FormatProfile>",
    terms: str = "",
) -> str:
    regions = "".join(
        f"<avails:Territory><md:country>{t}</md:country></avails:Territory>" for t in territories
    )
    return (
        f"<avails:Transaction><avails:LicenseType>{license_type}</avails:LicenseType>"
        f"{regions}{start}{end}{profile}{terms}</avails:Transaction>"
    )


def avails(*transactions: str, alid: str | None = "md:alid:test:1") -> bytes:
    alid_xml = f"<avails:ALID>{alid}</avails:ALID>" if alid is not None else ""
    return (
        f"<avails:AvailList {NS}><avails:Avail>{alid_xml}"
        "<avails:Disposition><avails:EntryType>Full Extract</avails:EntryType></avails:Disposition>"
        "<avails:Licensor><md:DisplayName>Test</md:DisplayName></avails:Licensor>"
        "<avails:AvailType>single</avails:AvailType><avails:ShortDescription/>"
        '<avails:Asset contentID="md:cid:test:1"><avails:WorkType>Movie</avails:WorkType>'
        "<avails:Metadata><avails:TitleInternalAlias>Test</avails:TitleInternalAlias>"
        "</avails:Metadata></avails:Asset>"
        f"{''.join(transactions)}</avails:Avail></avails:AvailList>"
    ).encode()


def test_zone_less_date_in_japan_opens_at_local_midnight() -> None:
    for start in ("2026-03-01", "2026-03-01T00:00:00"):
        result = parse_avails_xml(
            avails(transaction(start=f"<avails:Start>{start}</avails:Start>")), "jp.xml"
        )
        assert result.errors == []
        # 2026-03-01T00:00 JST (UTC+9) = 2026-02-28T15:00Z
        assert result.windows[0].start == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T00:00:00+01:00", datetime(2026, 2, 28, 23, 0, tzinfo=UTC)),
        ("2026-03-01T00:00:00Z", datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),
        ("2026-03-01T09:30:00-05:00", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
    ],
)
def test_explicit_offsets_are_honoured(text: str, expected: datetime) -> None:
    result = parse_avails_xml(
        avails(transaction(start=f"<avails:Start>{text}</avails:Start>")), "x"
    )
    assert result.windows[0].start == expected  # JP's zone is not applied


def test_one_window_per_territory() -> None:
    result = parse_avails_xml(avails(transaction(territories=("GB", "IE", "FR"))), "multi.xml")
    assert [w.territory for w in result.windows] == ["GB", "IE", "FR"]
    # each country's own midnight: London/Dublin UTC+0 in March, Paris UTC+1
    assert [w.start.hour for w in result.windows] == [0, 0, 23]


@pytest.mark.parametrize(
    ("tx", "field", "value", "phrase"),
    [
        (transaction(license_type="PVOD"), "LicenseType", "PVOD", "unknown licence type"),
        (transaction(territories=("XX",)), "Territory", "XX", "ISO 3166-1"),
        (transaction(territories=("US-CA",)), "Territory", "US-CA", "sub-national"),
        (
            transaction(end="<avails:End>2026-02-01</avails:End>"),
            "End", "2026-02-01", "not after Start",
        ),
        (
            transaction(start="<avails:Start>01/03/2026</avails:Start>"),
            "Start", "01/03/2026", "unparseable date",
        ),
        (transaction(territories=("BT",)), "Start", "2026-03-01", "no time zone"),
        (transaction(profile="<avails:FormatProfile>3DHD</avails:FormatProfile>"),
         "FormatProfile", "3DHD", "SD, HD or UHD"),
        (
            transaction(terms='<avails:Term termName="SRP"><avails:Money currency="EURO">'
                        "4.99</avails:Money></avails:Term>"),
            "Term[SRP]", "EURO", "ISO 4217",
        ),
        (
            transaction(terms='<avails:Term termName="RentalDuration">'
                        "<avails:Duration>PT90M</avails:Duration></avails:Term>"),
            "Term[RentalDuration]", "PT90M", "whole number of hours",
        ),
    ],
)  # fmt: skip
def test_bad_transaction_is_rejected_with_a_clear_error(
    tx: str, field: str, value: str, phrase: str
) -> None:
    good = transaction(territories=("GB",))
    result = parse_avails_xml(avails(good, tx), "bad.xml")
    assert [w.territory for w in result.windows] == ["GB"]  # the good row is kept
    (error,) = result.errors
    assert (error.file, error.location) == (
        "bad.xml",
        "Avail[1] ALID=md:alid:test:1/Transaction[2]",
    )
    assert (error.field, error.value) == (field, value)
    assert phrase in error.problem


def test_missing_alid_rejects_every_transaction_of_the_avail() -> None:
    result = parse_avails_xml(avails(transaction(), transaction(), alid=None), "noalid.xml")
    assert result.windows == []
    assert [(e.location, e.field, e.value) for e in result.errors] == [
        ("Avail[1]/Transaction[1]", "ALID", None),
        ("Avail[1]/Transaction[2]", "ALID", None),
    ]


def test_explicit_offset_places_a_territory_without_a_zone() -> None:
    tx = transaction(
        territories=("BT",), start="<avails:Start>2026-03-01T00:00:00+06:00</avails:Start>"
    )
    result = parse_avails_xml(avails(tx), "bt.xml")
    assert result.windows[0].start == datetime(2026, 2, 28, 18, 0, tzinfo=UTC)


def test_rental_terms_and_hdr() -> None:
    terms = (
        '<avails:Term termName="SRP"><avails:Money currency="JPY">400</avails:Money></avails:Term>'
        '<avails:Term termName="RentalDuration">'
        "<avails:Duration>P30D</avails:Duration></avails:Term>"
        '<avails:Term termName="WatchDuration">'
        "<avails:Duration>PT48H</avails:Duration></avails:Term>"
    )
    tx = transaction(
        license_type="VOD",
        profile='<avails:FormatProfile HDR="HDR10">UHD</avails:FormatProfile>',
        terms=terms,
    )
    (w,) = parse_avails_xml(avails(tx), "rent.xml").windows
    assert (w.license_type, w.format_profile, w.hdr) == (LicenseType.TVOD, FormatProfile.UHD, True)
    assert (str(w.price.srp), w.price.currency) == ("400", "JPY")
    assert (w.rental_duration_hours, w.watch_duration_hours) == (720, 48)


def test_worldwide_window_with_exclusions() -> None:
    tx = transaction(territories=("WW",)).replace(
        "</avails:Territory>",
        "</avails:Territory><avails:TerritoryExcluded><md:country>CN</md:country>"
        "</avails:TerritoryExcluded>",
        1,
    )
    (w,) = parse_avails_xml(avails(tx), "ww.xml").windows
    assert (w.territory, w.territories_excluded) == ("WW", ["CN"])
    assert w.start == datetime(2026, 3, 1, tzinfo=UTC)  # WW zone-less = UTC


# --- spreadsheets ------------------------------------------------------------------------


def test_xlsx_row_errors_name_sheet_row_and_column(tmp_path: Path) -> None:
    rows = [
        ["Avail", "AvailAsset", "AvailTrans", "AvailTrans", "AvailTrans", "AvailTrans", "x"],
        HEADER,
        ["//REQ", "//REQ", "//REQ", "//REQ", "//REQ", "//REQ", "//REQ"],
        ["a1", "c1", "GB", "SVOD", "HD", datetime(2026, 1, 1), "Open"],
        [None] * 7,
        ["a2", "c2", "JJ", "SVOD", "HD", datetime(2026, 1, 1), "Open"],
        ["a3", "c3", "FR", "EST", "HD", "2026-02-01", datetime(2026, 1, 1)],
        ["a4", "c4", "DE", "SVOD", "HD", "2026-01-01T00:00:00+01:00", "Open"],
    ]
    path = tmp_path / "partner.xlsx"
    path.write_bytes(make_workbook(rows))
    result = import_file(path)
    assert [w.title.alid for w in result.windows] == ["a1", "a4"]  # blank row 5 skipped
    assert result.windows[1].start == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert [(e.file, e.location, e.field, e.value) for e in result.errors] == [
        (str(path), "sheet 'Movies' row 6, column C", "Territory", "JJ"),
        (str(path), "sheet 'Movies' row 7, column G", "End", "2026-01-01T00:00:00"),
    ]


def test_xlsx_without_avails_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    path.write_bytes(make_workbook([["Item", "Cost"], ["tea", 3]]))
    with pytest.raises(PipelineError, match="no Avails sheet found"):
        import_file(path)


# --- hostile input -----------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE AvailList [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<avails:AvailList xmlns:avails="http://www.movielabs.com/schema/avails/v2.4/avails">
<avails:Avail><avails:ALID>&xxe;</avails:ALID></avails:Avail></avails:AvailList>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<avails:AvailList xmlns:avails="http://www.movielabs.com/schema/avails/v2.4/avails">
<avails:Avail><avails:ALID>&lol3;</avails:ALID></avails:Avail></avails:AvailList>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_xml_is_refused_naming_the_file(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "partner-avails.xml"
    path.write_bytes(payload)
    with pytest.raises(PipelineError, match="DOCTYPE") as caught:
        import_file(path)
    assert str(path) in str(caught.value)
    assert "root:" not in str(caught.value)  # nothing from /etc/passwd leaked


def test_hostile_xlsx_part_is_refused(tmp_path: Path) -> None:
    good = make_workbook([HEADER, ["a", "c", "GB", "SVOD", "HD", "2026-01-01", "Open"]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<worksheet" in data
                doctype = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                data = data.replace(b"<worksheet", doctype + b"<worksheet", 1)
            dst.writestr(item, data)
    path = tmp_path / "evil.xlsx"
    path.write_bytes(out.getvalue())
    with pytest.raises(PipelineError, match="DOCTYPE") as caught:
        import_file(path)
    assert str(path) in str(caught.value)


# --- format detection --------------------------------------------------------------------


@needs_samples
def test_format_is_chosen_by_content_not_name(tmp_path: Path) -> None:
    disguised = tmp_path / "avails.txt"
    disguised.write_bytes(XML_OK.read_bytes())
    assert len(import_file(disguised).windows) == xml_window_count(XML_OK)
    assert detect_format(MOVIES.read_bytes()) == "xlsx"
    assert detect_format(b"\xef\xbb\xbf  <x/>") == "xml"
    assert detect_format(b' {"title_id": "t"}') == "json"


@pytest.mark.parametrize(
    ("payload", "phrase"),
    [
        (b"", "empty"),
        (b"Territory,LicenseType\nGB,SVOD\n", "unrecognised format"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "legacy .xls"),
        (b"<MPD xmlns='urn:mpeg:dash:schema:mpd:2011'/>", "not an Avails v2.x document"),
        (b"<avails:AvailList " + NS.encode() + b"><oops>", "not well-formed"),
        (b'{"title_id": "t", "title_id": "u", "windows": []}', "duplicate key"),
        (b"PK\x03\x04 truncated", "not a readable XLSX"),
    ],
)
def test_unusable_files_raise_an_error_naming_the_file(payload: bytes, phrase: str) -> None:
    with pytest.raises(PipelineError, match=phrase) as caught:
        import_bytes(payload, "inbox/partner.dat")
    assert "inbox/partner.dat" in str(caught.value)


def test_missing_file_is_a_pipeline_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="cannot read"):
        import_file(tmp_path / "nope.xml")
