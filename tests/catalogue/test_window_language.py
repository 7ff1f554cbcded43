"""Windows keep their language version (issue 13): AssetLanguage and sub/dub are read from
both Avails carriers and the sidecar, join the window identity, show in `vod catalogue list`,
and narrow the playback decision only when a request names a language."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalogue.avails.from_xml import parse_avails_xml
from catalogue.entitlement import (
    Device,
    DeviceClass,
    EntitlementRequest,
    PresentationInfo,
    Reason,
    Rendition,
    SecurityLevel,
    Tier,
    decide,
)
from catalogue.importer import import_bytes, import_file
from catalogue.model import AvailabilityWindow, LicenseType, Localization, Title, localization_of
from catalogue.sidecar import parse_sidecar
from tests.support.avails import XML_OK, make_workbook, needs_samples
from vod.commands.catalogue import catalogue

T0 = datetime(2025, 6, 1, tzinfo=UTC)
SHEET_HEADER = ["ALID", "ContentID", "Territory", "LicenseType", "FormatProfile", "Start", "End",
                "AssetLanguage", "LocalizationType"]  # fmt: skip


def sheet(*rows: list[object]) -> bytes:
    return make_workbook([SHEET_HEADER, *[list(r) for r in rows]])


# -- the Avails carriers -------------------------------------------------------------------


def test_xlsx_dub_and_sub_rows_are_separate_windows() -> None:
    start = datetime(2026, 1, 1)
    result = import_bytes(
        sheet(
            ["a1", "c1", "CA", "EST", "HD", start, "Open", "EN", None],
            ["a1", "c1", "CA", "EST", "HD", start, "Open", "FR", "dub"],
            ["a1", "c1", "CA", "EST", "HD", start, "Open", "FR", "sub"],
            ["a1", "c1", "CA", "EST", "HD", start, "Open", "FR", "Any"],
        ),
        "m.xlsx",
    )
    assert result.errors == []
    versions = [(w.language, w.localization) for w in result.windows]
    assert versions == [("en", None), ("fr", Localization.DUB), ("fr", Localization.SUB),
                        ("fr", None)]  # fmt: skip
    assert len({w.key() for w in result.windows}) == 4


def test_xlsx_bad_localization_names_its_column() -> None:
    result = import_bytes(
        sheet(["a1", "c1", "CA", "EST", "HD", datetime(2026, 1, 1), "Open", "fr", "voiceover"]),
        "m.xlsx",
    )
    assert result.windows == []
    ((location, field, value),) = [(e.location, e.field, e.value) for e in result.errors]
    assert (location, field, value) == ("sheet 'Movies' row 2, column I", "LocalizationType",
                                        "voiceover")  # fmt: skip


def test_preorder_ends_at_the_est_start_of_its_own_language() -> None:
    result = import_bytes(
        sheet(
            ["a1", "c1", "CA", "POEST", "HD", datetime(2026, 1, 1), "ESTStart", "fr", "dub"],
            ["a1", "c1", "CA", "EST", "HD", datetime(2026, 2, 1), "Open", "en", None],
            ["a1", "c1", "CA", "EST", "HD", datetime(2026, 3, 1), "Open", "fr", "dub"],
        ),
        "m.xlsx",
    )
    preorder, _, french = result.windows
    assert preorder.end == french.start == datetime(2026, 3, 1, 5, tzinfo=UTC)  # Toronto


def test_xml_one_window_per_asset_language_with_the_assets_localization() -> None:
    ns = ('xmlns:avails="http://www.movielabs.com/schema/avails/v2.4/avails" '
          'xmlns:md="http://www.movielabs.com/schema/md/v2.7/md"')  # fmt: skip
    document = (
        f"<avails:AvailList {ns}><avails:Avail><avails:ALID>a1</avails:ALID>"
        '<avails:Asset contentID="c1"><avails:Metadata>'
        "<avails:LocalizationOffering>sub</avails:LocalizationOffering>"
        "</avails:Metadata></avails:Asset><avails:Transaction>"
        "<avails:LicenseType>EST</avails:LicenseType>"
        "<avails:Territory><md:country>CA</md:country></avails:Territory>"
        "<avails:Start>2026-01-01T00:00:00Z</avails:Start>"
        "<avails:EndCondition>Open</avails:EndCondition>"
        "<avails:AssetLanguage>en</avails:AssetLanguage>"
        "<avails:AssetLanguage>fr-CA</avails:AssetLanguage>"
        "<avails:FormatProfile>HD</avails:FormatProfile>"
        "</avails:Transaction></avails:Avail></avails:AvailList>"
    ).encode()
    result = parse_avails_xml(document, "a.xml")
    assert result.errors == []
    assert [(w.language, w.localization) for w in result.windows] == [
        ("en", Localization.SUB), ("fr-CA", Localization.SUB)
    ]  # fmt: skip


@needs_samples
def test_xml_sample_keeps_its_asset_languages() -> None:
    windows = import_file(XML_OK).windows
    assert {w.language for w in windows} <= {"en", None}
    assert any(w.language == "en" for w in windows)
    assert len({w.key() for w in windows}) == len(windows)  # nothing merges


# -- the JSON sidecar -----------------------------------------------------------------------


def sidecar(*windows: dict) -> bytes:
    base = {"territory": "CA", "license_type": "EST", "start": "2026-01-01"}
    return json.dumps({"title_id": "t1", "windows": [base | w for w in windows]}).encode()


def test_sidecar_language_is_optional_and_part_of_the_identity() -> None:
    result = parse_sidecar(
        sidecar({}, {"language": "fr-ca", "localization": "dub"}, {"localization": "any"}), "s"
    )
    assert result.errors == []
    plain, dub, any_version = result.windows
    assert (plain.language, plain.localization) == (None, None)  # old files: any language
    assert (dub.language, dub.localization) == ("fr-CA", Localization.DUB)
    assert plain.key() == any_version.key() != dub.key()


def test_sidecar_refuses_a_bad_language_or_localization() -> None:
    result = parse_sidecar(sidecar({"language": "zz"}, {"localization": "voiceover"}), "s")
    assert result.windows == []
    assert [(e.location, e.field) for e in result.errors] == [
        ("windows[0]", "language"), ("windows[1]", "localization")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("DUB", Localization.DUB), (" subdub ", Localization.SUBDUB), ("any", None), (None, None)],
)
def test_localization_words(text: str | None, expected: Localization | None) -> None:
    assert localization_of(text) is expected


# -- the playback decision ------------------------------------------------------------------


def window(language: str | None = None, allowed: tuple[str, ...] = ()) -> AvailabilityWindow:
    return AvailabilityWindow(
        title=Title(alid="alid-t1", content_id="t1"), territory="CA",
        license_type=LicenseType.SVOD, start=T0, language=language, languages=list(allowed),
    )  # fmt: skip


def decide_for(windows: list[AvailabilityWindow], language: str | None = None) -> Reason | None:
    request = EntitlementRequest(
        title_id="t1", territory="CA", tier=Tier(name="premium"), language=language,
        device=Device(device_class=DeviceClass.TV, registered=True,
                      security_level=SecurityLevel.WIDEVINE_L1),
    )  # fmt: skip
    presentation = PresentationInfo(
        title_id="t1", renditions=[Rendition(id="v1080", kind="video", height=1080)]
    )
    return decide(request, windows, [], presentation, T0 + timedelta(days=1)).reason


def test_decision_is_language_blind_unless_asked() -> None:
    assert decide_for([window("es")]) is None


@pytest.mark.parametrize(
    ("windows", "language", "reason"),
    [
        ([window("fr")], "fr-CA", None),  # a French version serves a fr-CA request...
        ([window("fr-CA")], "fr", None),  # ...and the other way round
        ([window()], "ja", None),  # no language: any
        ([window(allowed=("en", "fr"))], "fr", None),  # AllowedLanguage counts
        ([window("en", allowed=("fr",))], "FR", None),
        ([window("es"), window("en")], "fr", Reason.NO_RIGHTS_IN_LANGUAGE),
        ([window(allowed=("en",))], "fr", Reason.NO_RIGHTS_IN_LANGUAGE),
    ],
)
def test_decision_when_a_language_is_named(
    windows: list[AvailabilityWindow], language: str, reason: Reason | None
) -> None:
    assert decide_for(windows, language) == reason


def test_a_language_request_outside_the_territory_is_still_a_territory_denial() -> None:
    assert decide_for([], "fr") == Reason.NO_RIGHTS_IN_TERRITORY


def test_request_language_must_look_like_a_tag() -> None:
    with pytest.raises(ValueError, match="language"):
        EntitlementRequest(
            title_id="t1", territory="CA", language="fr_CA; drop",
            device=Device(device_class=DeviceClass.TV, registered=True,
                          security_level=SecurityLevel.WIDEVINE_L1),
        )  # fmt: skip


# -- vod catalogue list ---------------------------------------------------------------------


def test_catalogue_list_shows_the_language_versions(tmp_path: Path) -> None:
    rights = tmp_path / "rights.json"
    rights.write_bytes(sidecar({"language": "en"}, {"language": "fr", "localization": "dub"}))
    url = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    imported = runner.invoke(catalogue, ["--database-url", url, "import", str(rights)])
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(catalogue, ["--database-url", url, "list", "--territory", "CA",
                                       "--at", "2026-06-01T00:00:00Z"])  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["t1\t\tEST/HD\tnot packaged\ten,fr (dub)"]
    as_json = runner.invoke(catalogue, ["--database-url", url, "list", "--territory", "CA",
                                        "--at", "2026-06-01T00:00:00Z", "--json"])  # fmt: skip
    offers = json.loads(as_json.stdout)[0]["offers"]
    assert [(o["language"], o["localization"]) for o in offers] == [("en", None), ("fr", "dub")]
