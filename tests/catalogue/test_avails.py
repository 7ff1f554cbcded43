"""Rights import: real MovieLabs Avails samples (XML v2.x, XLSX v1.9), our JSON sidecar.

Expected counts are derived here from the files themselves with lxml/openpyxl, independently
of the importer, so a silently dropped or duplicated row fails the test.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from catalogue.avails_xml import parse_avails_xml
from catalogue.importer import detect_format, import_bytes, import_file
from catalogue.model import FormatProfile, LicenseType
from catalogue.sidecar import parse_sidecar, sidecar_json_schema
from catalogue.territories import (
    ZONED_TERRITORIES,
    language_tag_problem,
    local_time_exists,
    local_to_utc,
    utc_to_local,
)
from core.errors import PipelineError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "avails"
XML_OK = DATA / "Avails_noErrors_v2.4.xml"
XML_BAD = DATA / "Avails_withErrors.xml"
MOVIES = DATA / "Movies_v1.9.xlsx"
TV = DATA / "TV_v1.9.xlsx"
SAMPLES = sorted(p for p in DATA.glob("*") if p.suffix in (".xml", ".xlsx"))

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"sample avails not found at {DATA}")


# --- independent counts -------------------------------------------------------------------


def xml_transactions(path: Path) -> list[etree._Element]:
    return list(etree.parse(str(path)).getroot().iter("{*}Transaction"))


def xml_window_count(path: Path) -> int:
    """Transaction x Territory elements: one window each."""
    return sum(len(tx.findall("{*}Territory")) for tx in xml_transactions(path))


def xlsx_data_rows(path: Path) -> list[int]:
    """Row numbers under the header row whose LicenseType cell holds a value (not a // note)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    rows: list[int] = []
    for ws in wb.worksheets:
        column = None
        for number, row in enumerate(ws.iter_rows(values_only=True), 1):
            if column is None:
                if "LicenseType" in row:
                    column = row.index("LicenseType")
                continue
            value = row[column] if column < len(row) else None
            if isinstance(value, str) and value.strip() and not value.startswith("//"):
                rows.append(number)
    wb.close()
    return rows


# --- every sample ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_file_imports(path: Path) -> None:
    result = import_file(path)
    assert result.windows
    for w in result.windows:
        assert w.start.utcoffset() == timedelta(0)
        assert w.end is None or w.end > w.start
        assert w.source and w.source.startswith(str(path))


def test_sample_set_is_the_expected_one() -> None:
    assert {p.name for p in SAMPLES} == {
        "Avails_noErrors_v2.4.xml", "Avails_withErrors.xml", "Movies_v1.9.xlsx", "TV_v1.9.xlsx"
    }  # fmt: skip


def test_xml_window_count_matches_transaction_territories() -> None:
    result = import_file(XML_OK)
    assert result.errors == []
    expected = xml_window_count(XML_OK)
    assert expected == 24
    assert len(result.windows) == expected


@pytest.mark.parametrize("path", [MOVIES, TV], ids=lambda p: p.name)
def test_xlsx_one_window_per_data_row(path: Path) -> None:
    result = import_file(path)
    rows = xlsx_data_rows(path)
    assert result.errors == []
    assert len(result.windows) == len(rows)
    assert [int(w.source.rsplit("row ", 1)[1]) for w in result.windows] == rows


def test_xlsx_counts_are_the_sample_sizes() -> None:
    assert (len(xlsx_data_rows(MOVIES)), len(xlsx_data_rows(TV))) == (26, 38)


def test_xml_fields_of_a_known_avail() -> None:
    windows = import_file(XML_OK).windows
    bravados = [w for w in windows if w.title.alid == "md:pseudoalid:wprid.fox.com:001143"]
    assert [w.format_profile for w in bravados] == [FormatProfile.HD, FormatProfile.SD]
    w = bravados[0]
    assert w.title.content_id == "md:cid:eidr-s:8FF3-1C20-84F5-F247-8BCD-E"
    assert w.title.eidr == "10.5240/77C5-ED35-8FC2-7D9D-9531-1"  # EditEIDR-URN wins
    assert w.title.name == "THE BRAVADOS"
    assert w.title.kind == "single"
    assert w.title.run_length_seconds == 1 * 3600 + 37 * 60 + 49  # PT01H37M49S
    assert (w.territory, w.license_type) == ("US", LicenseType.EST)
    assert (str(w.price.srp), w.price.currency) == ("1000.00", "XTS")
    assert w.languages[:3] == ["ar", "cmn", "cs"]
    # 1917-09-24T23:59:59 with no zone: US local (Eastern, UTC-5 then) -> next day 04:59:59Z
    assert w.start == datetime(1917, 9, 25, 4, 59, 59, tzinfo=UTC)


def test_xml_vod_is_a_rental_and_category_is_the_price_tier() -> None:
    rentals = [w for w in import_file(XML_OK).windows if w.license_type is LicenseType.TVOD]
    vod_count = sum(tx.findtext("{*}LicenseType") == "VOD" for tx in xml_transactions(XML_OK))
    assert len(rentals) == vod_count == 1
    assert rentals[0].title.alid == "030434"
    assert rentals[0].price.tier == "NR"


def test_open_end_is_none_and_dated_end_is_kept() -> None:
    windows = import_file(XML_OK).windows
    open_count = sum(
        len(tx.findall("{*}Territory"))
        for tx in xml_transactions(XML_OK)
        if tx.findtext("{*}EndCondition") == "Open"
    )
    assert open_count == 12
    assert sum(w.end is None for w in windows) == open_count
    dated = [w for w in windows if w.end is not None]
    # 2017-12-11T23:59:59 US Eastern (EST, UTC-5) -> 2017-12-12T04:59:59Z
    assert {w.end for w in dated} == {datetime(2017, 12, 12, 4, 59, 59, tzinfo=UTC)}


def test_titles_from_episode_and_season_metadata() -> None:
    windows = import_file(XML_OK).windows
    by_alid = {w.title.alid: w.title for w in windows}
    episode = by_alid["md:alid:disney.com:jake-s01e01"]
    assert (episode.kind, episode.name) == ("episode", "Hide The Hideout! /The Old Shell Game")
    assert episode.eidr == "10.5240/F926-336C-2666-0201-54E9-I"
    season = by_alid["md:alid:disney.com:jake-s01"]
    assert (season.kind, season.name) == ("season", "Jake and the Neverland Pirates")
    collection = by_alid["596509"]
    assert collection.name == "Star Wars: The Digital Movie Collection (5)"  # whitespace folded


# --- the deliberately broken file --------------------------------------------------------


def test_with_errors_file_rejects_bad_transactions_and_keeps_good_ones() -> None:
    result = import_file(XML_BAD)
    file = str(XML_BAD)
    found = {(e.location, e.field, e.value) for e in result.errors}
    fox = "Avail[1] ALID=md:pseudoalid:wprid.fox.com:001143"
    assert found == {
        (f"{fox}/Transaction[1]", "Territory", "JJ"),
        (f"{fox}/Transaction[1]", "AllowedLanguage", "XYZ"),
        (f"{fox}/Transaction[2]", "AllowedLanguage", "fr-xx"),
        (f"{fox}/Transaction[2]", "AssetLanguage", "ENg"),
        ("Avail[2] ALID=030434/Transaction[2]", "LicenseRightsDescription", "Librry"),
    }
    assert len(result.errors) == 5
    for error in result.errors:
        assert error.file == file
        assert error.problem
        assert file in str(error) and error.location in str(error) and error.field in str(error)
    # the one clean transaction survives, with its terms
    rejected = {e.location for e in result.errors}
    assert len(result.windows) == len(xml_transactions(XML_BAD)) - len(rejected) == 1
    (good,) = result.windows
    assert (good.title.alid, good.license_type, good.format_profile) == (
        "030434", LicenseType.EST, FormatProfile.SD,
    )  # fmt: skip
    assert str(good.price.wsp) == "999.99"
    assert good.source == f"{file}: Avail[2] ALID=030434/Transaction[1]"


def test_error_messages_say_what_is_wrong() -> None:
    by_value = {e.value: e.problem for e in import_file(XML_BAD).errors}
    assert "ISO 3166-1" in by_value["JJ"]
    assert "region subtag 'xx'" in by_value["fr-xx"]
    assert "2-letter ISO 639-1" in by_value["ENg"]
    assert "vocabulary" in by_value["Librry"]


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


def test_xlsx_values_and_local_dates() -> None:
    windows = {int(w.source.rsplit("row ", 1)[1]): w for w in import_file(MOVIES).windows}
    first = windows[4]  # US EST HD, 2013-06-14, Tier 4, Open
    assert first.title.alid == "md:alid:eidr-s:1489-49A2-3956-4B2D-ZZ45-6"
    assert first.title.name == "The View from a Mountain"
    assert first.title.eidr == "10.5240/1489-49A2-3956-4B2D-ZZ45-6"  # EditID
    assert first.title.run_length_seconds == 1 * 3600 + 56 * 60 + 20
    assert (first.price.tier, first.end) == ("4", None)
    assert first.start == datetime(2013, 6, 14, 4, 0, tzinfo=UTC)  # midnight EDT
    spain = windows[22]  # ES EST HD, WSP 10 USD from 2013-05-28 (CEST, UTC+2)
    assert spain.start == datetime(2013, 5, 27, 22, 0, tzinfo=UTC)
    assert (str(spain.price.wsp), spain.price.currency) == ("10", "USD")
    rental = windows[12]  # CA VOD: 720 h rental, 72 h to watch
    assert rental.license_type is LicenseType.TVOD
    assert (rental.rental_duration_hours, rental.watch_duration_hours) == (720, 72)


def test_xlsx_preorder_ends_when_est_starts() -> None:
    windows = {int(w.source.rsplit("row ", 1)[1]): w for w in import_file(MOVIES).windows}
    preorder, est = windows[6], windows[8]  # End "ESTStart"; the CA EST HD window
    assert preorder.license_type is LicenseType.POEST and est.license_type is LicenseType.EST
    assert preorder.end == est.start == datetime(2013, 5, 14, 4, 0, tzinfo=UTC)


def test_tv_sheet_uses_episode_and_season_columns() -> None:
    windows = {int(w.source.rsplit("row ", 1)[1]): w for w in import_file(TV).windows}
    season, episode = windows[4], windows[8]
    assert (season.title.kind, season.title.content_id) == (
        "season", "md:cid:eidr-s:AAAA-AAAA-AAAA-AAAA-1111-A",
    )  # fmt: skip
    assert season.title.name == "The Detectives"  # series title: the season has none
    assert (episode.title.kind, episode.title.name) == ("episode", "Temps et lieu")
    assert episode.title.run_length_seconds == 56 * 60 + 20  # "56:20"


def make_workbook(rows: list[list[object]], title: str = "Movies") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HEADER = ["ALID", "ContentID", "Territory", "LicenseType", "FormatProfile", "Start", "End"]


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


# --- idempotency -------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_importing_twice_gives_the_same_windows_and_keys(path: Path) -> None:
    first, second = import_file(path), import_file(path)
    assert [w.key() for w in first.windows] == [w.key() for w in second.windows]
    assert first == second


# --- time zones --------------------------------------------------------------------------


def test_every_zone_in_the_table_loads() -> None:
    moment = datetime(2026, 6, 1, 12, 0)
    for territory in ZONED_TERRITORIES:
        assert local_to_utc(moment, territory).tzinfo is UTC


def test_dst_gap_is_detected() -> None:
    assert not local_time_exists(datetime(2026, 3, 8, 2, 30), "US")  # clocks jump 02:00->03:00
    assert local_time_exists(datetime(2026, 11, 1, 1, 30), "US")  # the fold exists (twice)


@settings(max_examples=300, deadline=None)
@given(
    local=st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1)),
    territory=st.sampled_from(ZONED_TERRITORIES),
)
def test_local_to_utc_round_trips(local: datetime, territory: str) -> None:
    assume(local_time_exists(local, territory))
    utc = local_to_utc(local, territory)
    assert utc.utcoffset() == timedelta(0)
    assert utc_to_local(utc, territory) == local


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


# --- JSON sidecar ------------------------------------------------------------------------

SIDECAR = {
    "title_id": "tt-0042",
    "alid": "md:alid:example.com:0042",
    "name": "Example Title",
    "windows": [
        {
            "territory": "GB", "license_type": "SVOD", "tier": "standard",
            "format_profile": "HD", "start": "2026-01-01", "end": None,
            "price": {"srp": "4.99", "currency": "GBP"},
            "rental_duration_hours": 48, "watch_duration_hours": 48,
        },
        {"territory": "JP", "license_type": "TVOD", "start": "2026-03-01", "end": "2026-04-01",
         "price": {"srp": "400", "currency": "JPY"}, "languages": ["ja", "en-us"]},
        {"territory": "JJ", "license_type": "SVOD", "start": "2026-01-01"},
        {"territory": "FR", "license_type": "RENT", "start": "2026-01-01", "colour": "red"},
        {"territory": "DE", "license_type": "SVOD", "start": "2026-05-01", "end": "2026-04-01"},
    ],
}  # fmt: skip


def test_sidecar_windows_and_per_window_errors(tmp_path: Path) -> None:
    path = tmp_path / "tt-0042.rights.json"
    path.write_text(json.dumps(SIDECAR))
    result = import_file(path)
    assert [w.territory for w in result.windows] == ["GB", "JP"]
    gb, jp = result.windows
    assert (gb.title.alid, gb.title.content_id, gb.title.name) == (
        "md:alid:example.com:0042", "tt-0042", "Example Title",
    )  # fmt: skip
    assert gb.start == datetime(2026, 1, 1, tzinfo=UTC)  # London midnight in winter = UTC
    assert (gb.price.tier, str(gb.price.srp), gb.price.currency) == ("standard", "4.99", "GBP")
    assert (gb.rental_duration_hours, gb.watch_duration_hours) == (48, 48)
    assert jp.start == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    assert jp.languages == ["ja", "en-US"]
    assert [(e.location, e.field, e.value) for e in result.errors] == [
        ("windows[2]", "territory", "JJ"),
        ("windows[3]", "license_type", "RENT"),
        ("windows[3]", "colour", "red"),
        ("windows[4]", "end", "2026-04-01"),
    ]
    assert all(e.file == str(path) for e in result.errors)


def test_sidecar_missing_title_id_rejects_the_file_contents() -> None:
    result = parse_sidecar(json.dumps({"windows": []}).encode(), "s.json")
    assert result.windows == []
    assert [(e.location, e.field) for e in result.errors] == [("$", "title_id")]


def test_sidecar_alid_defaults_to_title_id() -> None:
    doc = {"title_id": "tt-1", "windows": [{"territory": "US", "license_type": "AVOD",
                                           "start": "2026-01-01T00:00:00Z"}]}  # fmt: skip
    (w,) = parse_sidecar(json.dumps(doc).encode(), "s.json").windows
    assert (w.title.alid, w.start) == ("tt-1", datetime(2026, 1, 1, tzinfo=UTC))


def test_sidecar_json_schema_export() -> None:
    schema = sidecar_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"title_id", "windows"}
    window = schema["$defs"]["SidecarWindow"]
    assert {"territory", "license_type", "start"} <= set(window["required"])
    assert window["additionalProperties"] is False
    json.dumps(schema)  # serialisable as is


# --- language tags -----------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["en", "EN", "es-419", "zh-Hant-TW", "fr-CA", "cmn", "de-CH-1901"])
def test_good_language_tags(tag: str) -> None:
    assert language_tag_problem(tag) is None


@pytest.mark.parametrize("tag", ["XYZ", "fr-xx", "ENg", "english", "e", "en_US", ""])
def test_bad_language_tags(tag: str) -> None:
    assert language_tag_problem(tag)
