"""Rights import of our JSON sidecar, the territory time zones, and language tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from catalogue.importer import import_file
from catalogue.sidecar import parse_sidecar, sidecar_json_schema
from catalogue.territories import (
    ZONED_TERRITORIES,
    language_tag_problem,
    local_time_exists,
    local_to_utc,
    utc_to_local,
)

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


# --- language tags -----------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["en", "EN", "es-419", "zh-Hant-TW", "fr-CA", "cmn", "de-CH-1901"])
def test_good_language_tags(tag: str) -> None:
    assert language_tag_problem(tag) is None


@pytest.mark.parametrize("tag", ["XYZ", "fr-xx", "ENg", "english", "e", "en_US", ""])
def test_bad_language_tags(tag: str) -> None:
    assert language_tag_problem(tag)
