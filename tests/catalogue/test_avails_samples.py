"""Rights import of the real MovieLabs Avails samples (XML v2.x, XLSX v1.9).

Expected counts are derived here from the files themselves with lxml/openpyxl, independently
of the importer, so a silently dropped or duplicated row fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalogue.importer import import_file
from catalogue.model import FormatProfile, LicenseType
from tests.support.avails import (
    MOVIES,
    SAMPLES,
    TV,
    XML_BAD,
    XML_OK,
    needs_samples,
    xlsx_data_rows,
    xml_transactions,
    xml_window_count,
)

pytestmark = needs_samples


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


# --- idempotency -------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_importing_twice_gives_the_same_windows_and_keys(path: Path) -> None:
    first, second = import_file(path), import_file(path)
    assert [w.key() for w in first.windows] == [w.key() for w in second.windows]
    assert first == second
