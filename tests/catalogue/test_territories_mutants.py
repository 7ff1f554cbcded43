"""Territory and language-tag edges that mutation testing (scripts/mutation.sh
catalogue/territories.py) found untested: the exact refusals partners read, aware inputs,
zones whose offset is unknown, and the casing of every language-tag subtag kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from catalogue.territories import (
    NoZoneForTerritory,
    language_tag_problem,
    local_to_utc,
    normalise_language_tag,
    utc_to_local,
)


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: Python treats such values as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_zone_less_date_for_an_unzoned_territory_says_how_to_fix_it() -> None:
    with pytest.raises(NoZoneForTerritory) as caught:
        local_to_utc(datetime(2026, 3, 1), "GL")
    assert str(caught.value) == (
        "no time zone is known for territory 'GL', so a date without an offset cannot be "
        "placed; send it with an explicit offset (e.g. 2026-03-01T00:00:00+01:00)"
    )


def test_utc_to_local_refuses_a_naive_value_by_name() -> None:
    with pytest.raises(ValueError) as caught:
        utc_to_local(datetime(2026, 3, 1), "GB")
    assert str(caught.value) == "utc_to_local needs an aware datetime"


def test_aware_values_keep_their_offset_and_come_back_in_utc() -> None:
    value = datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    utc = local_to_utc(value, "JP")
    assert utc == datetime(2026, 3, 1, 0, 0, tzinfo=UTC) and utc.tzinfo is UTC


def test_a_tzinfo_without_an_offset_is_read_as_territory_local() -> None:
    value = datetime(2026, 3, 1, 9, 0, tzinfo=_NoOffset())
    assert local_to_utc(value, "JP") == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "tag, problem",
    [
        ("not a tag!", "not a BCP 47 language tag (expected e.g. 'en', 'es-419', 'zh-Hant-TW')"),
        (
            "eng",
            "unknown primary language subtag 'eng' (use the 2-letter ISO 639-1 code where one "
            "exists)",
        ),
        ("qq-GB", "unknown primary language subtag 'qq'"),
        ("en-QQ", "unknown region subtag 'QQ' (not an ISO 3166-1 or UN M.49 code)"),
        ("yue-HK", None),
    ],
)
def test_language_tag_problems_are_exact(tag: str, problem: str | None) -> None:
    assert language_tag_problem(tag) == problem


@pytest.mark.parametrize(
    "tag, normal",
    [
        ("ZH-hant-tw", "zh-Hant-TW"),  # script after the language only: Title case
        ("zh-HANT", "zh-Hant"),
        ("en-us-ABCD", "en-US-abcd"),  # a 4-letter subtag later on is not a script
        ("sl-ROZAJ", "sl-rozaj"),  # variants lower case
        ("EN-us-X-PRIV-ab", "en-US-x-priv-ab"),  # private use: all lower, even 2 letters
        ("de-CH-u-CO-phonebk", "de-CH-u-co-phonebk"),  # extensions likewise
    ],
)
def test_language_tags_are_cased_per_subtag_kind(tag: str, normal: str) -> None:
    assert normalise_language_tag(tag) == normal
