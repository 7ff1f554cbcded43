"""The catalogue store on SQLite and PostgreSQL: migrations, idempotent import, browse, detail,
presentations from packaging, and the store feeding the pure decision.

PostgreSQL: `VOD_TEST_PG` may name an admin URL; otherwise 127.0.0.1:5432 is tried, then the
Debian cluster is started (`pg_ctlcluster`), then a throwaway cluster is initdb'd in /tmp on a
free port (`VOD_TEST_PG=throwaway` forces that). Each run works in its own `vod_test_<hex>`
database and drops it afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from catalogue import db, migrations, store
from catalogue.entitlement import Device, DeviceClass, EntitlementRequest, SecurityLevel, decide
from catalogue.importer import import_file
from catalogue.model import (
    AvailabilityWindow,
    FormatProfile,
    LicenseType,
    Localization,
    PriceTerms,
    Title,
)
from catalogue.tables import Base, PresentationRow, TitleRow, WindowRow
from tests.support.avails import MOVIES, needs_samples
from tests.support.postgres import admin_sql

T0 = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for this run, migrated to head, dropped at the end."""
    name = f"vod_test_{uuid.uuid4().hex[:12]}"
    admin_sql(pg_admin_url, f'CREATE DATABASE "{name}"')
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        db.setup(url).dispose()
        yield url
    finally:
        admin_sql(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty catalogue on each backend."""
    if request.param == "sqlite":
        eng = db.setup(f"sqlite:///{tmp_path / 'catalogue.db'}")
    else:
        eng = db.make_engine(request.getfixturevalue("pg_url"))
        with eng.begin() as conn:
            conn.execute(text("TRUNCATE presentations, windows, titles CASCADE"))
    yield eng
    eng.dispose()


# -- helpers ------------------------------------------------------------------------------


def win(
    title: str = "t1",
    territory: str = "GB",
    license_type: LicenseType = LicenseType.SVOD,
    start: datetime = T0,
    end: datetime | None = T0 + timedelta(days=30),
    **kw: object,
) -> AvailabilityWindow:
    return AvailabilityWindow(
        title=Title(alid=f"md:alid:{title}", content_id=title, name=f"Title {title}"),
        territory=territory,
        license_type=license_type,
        start=start,
        end=end,
        **kw,
    )


def catalogue_fixture() -> list[AvailabilityWindow]:
    """3 titles x several territories and licence types, with prices and TVOD terms."""
    out = []
    for t in ("t1", "t2", "t3"):
        for c in ("GB", "US", "JP"):
            out.append(win(t, c, price=PriceTerms(tier="basic", srp=Decimal("3.99"))))
        out.append(
            win(t, "GB", LicenseType.TVOD, format_profile=FormatProfile.UHD,
                price=PriceTerms(srp=Decimal("4.49"), currency="GBP"),
                rental_duration_hours=720, watch_duration_hours=48)
        )  # fmt: skip
    return out


def summary(title_id: str = "t1", heights: tuple[int, ...] = (360, 720, 1080)) -> dict:
    """What `IngestResult.summary()` returns for a packaged, protected title."""
    return {
        "title_id": title_id,
        "hls": f"/srv/origin/{title_id}/master.m3u8",
        "dash": f"/srv/origin/{title_id}/manifest.mpd",
        "duration": 12.0,
        "renditions": [
            {
                "id": f"v{h}",
                "kind": "video",
                "codecs": "avc1.64001f",
                "width": h * 16 // 9,
                "height": h,
                "frame_rate": "30",
                "bandwidth": h * 4000,
                "average_bandwidth": h * 3000,
            }
            for h in heights
        ]  # fmt: skip
        + [
            {
                "id": "a-en",
                "kind": "audio",
                "codecs": "mp4a.40.2",
                "language": "en",
                "channels": 2,
                "sample_rate": 48000,
                "bandwidth": 128000,
            }
        ],  # fmt: skip
        "timings": {"package": 1.0},
        "drm": {
            "systems": ["widevine"],
            "scheme": "cbcs",
            "license_url": "https://lic",
            "kids": {"AUDIO": "k-a", "SD": "k-sd", "HD": "k-hd"},
        },  # fmt: skip
    }


def write(engine: Engine, windows: list[AvailabilityWindow]) -> store.ImportCounts:
    with db.session_scope(engine) as s:
        return store.import_windows(s, windows)


def count(engine: Engine, table: type) -> int:
    with db.session_factory(engine)() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


# -- schema -------------------------------------------------------------------------------


def test_migration_matches_the_orm_and_reruns_as_a_no_op(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        assert head == "0002_window_language"
    db.setup(engine.url.render_as_string(hide_password=False)).dispose()  # second upgrade
    assert count(engine, WindowRow) == 0


def test_window_identity_is_unique_in_the_database(engine: Engine) -> None:
    write(engine, [win()])
    with pytest.raises(IntegrityError), db.session_scope(engine) as s:
        row = s.scalars(select(WindowRow)).one()
        values = {c.key: getattr(row, c.key) for c in WindowRow.__table__.columns if c.key != "id"}
        s.execute(insert(WindowRow), [values])


# -- import -------------------------------------------------------------------------------


def test_reimport_changes_nothing(engine: Engine) -> None:
    windows = catalogue_fixture()
    assert write(engine, windows) == store.ImportCounts(inserted=12, updated=0, unchanged=0)
    assert write(engine, windows) == store.ImportCounts(inserted=0, updated=0, unchanged=12)
    assert count(engine, WindowRow) == 12 and count(engine, TitleRow) == 3


def test_reimport_with_a_changed_term_updates_only_that_window(engine: Engine) -> None:
    windows = catalogue_fixture()
    write(engine, windows)
    changed = list(windows)
    changed[3] = changed[3].model_copy(
        update={"end": T0 + timedelta(days=60), "price": PriceTerms(srp=Decimal("5.99"))}
    )
    extra = win("t4", "FR")
    assert write(engine, [*changed, extra]) == store.ImportCounts(1, 1, 11)
    with db.session_factory(engine)() as s:
        row = s.scalars(
            select(WindowRow).where(WindowRow.title_id == "t1", WindowRow.license_type == "TVOD")
        ).one()
        assert row.srp == Decimal("5.99") and row.ends_at == T0 + timedelta(days=60)
        assert row.currency is None  # the new file's terms replace the old ones wholesale


def test_duplicates_in_one_batch_last_wins(engine: Engine) -> None:
    first = win(price=PriceTerms(srp=Decimal("1.00")))
    second = win(price=PriceTerms(srp=Decimal("2.00")))
    assert write(engine, [first, second]) == store.ImportCounts(inserted=1)
    with db.session_factory(engine)() as s:
        assert s.scalars(select(WindowRow.srp)).one() == Decimal("2.00")


def test_zoned_start_is_stored_as_the_same_instant(engine: Engine) -> None:
    jst = datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    write(engine, [win(territory="JP", start=jst, end=None)])
    # the same licence expressed in UTC is the same window
    again = write(engine, [win(territory="JP", start=jst.astimezone(UTC), end=None)])
    assert again == store.ImportCounts(unchanged=1)
    with db.session_factory(engine)() as s:
        starts = s.scalars(select(WindowRow.starts_at)).one()
        assert starts == datetime(2025, 5, 31, 15, tzinfo=UTC) and starts.tzinfo is not None
        before = store.browse(s, "JP", datetime(2025, 5, 31, 14, tzinfo=UTC))
        after = store.browse(s, "JP", datetime(2025, 5, 31, 15, tzinfo=UTC))
        assert [e.title_id for e in before] == [] and [e.title_id for e in after] == ["t1"]


def test_title_metadata_is_filled_in_never_blanked(engine: Engine) -> None:
    write(engine, [win()])
    bare = AvailabilityWindow(
        title=Title(alid="md:alid:t1", content_id="t1", eidr="10.5240/XXXX"),
        territory="GB", license_type=LicenseType.SVOD, start=T0, end=T0 + timedelta(days=30),
    )  # fmt: skip
    write(engine, [bare])
    with db.session_factory(engine)() as s:
        t = s.get(TitleRow, "t1")
        assert t is not None and t.name == "Title t1" and t.eidr == "10.5240/XXXX"


# -- browse and detail --------------------------------------------------------------------


def test_browse_by_territory_and_time_with_boundaries(engine: Engine) -> None:
    write(engine, catalogue_fixture() + [win("t9", "GB", start=T0 + timedelta(days=10), end=None)])
    with db.session_factory(engine)() as s:
        gb = store.browse(s, "GB", T0)  # start inclusive
        assert [e.title_id for e in gb] == ["t1", "t2", "t3"]
        assert {o.license_type for o in gb[0].offers} == {LicenseType.SVOD, LicenseType.TVOD}
        tvod = next(o for o in gb[0].offers if o.license_type == LicenseType.TVOD)
        assert tvod.srp == Decimal("4.49") and tvod.currency == "GBP"
        assert store.browse(s, "GB", T0 - timedelta(microseconds=1)) == []
        end = T0 + timedelta(days=30)
        assert [e.title_id for e in store.browse(s, "GB", end - timedelta(microseconds=1))] == [
            "t1", "t2", "t3", "t9"
        ]  # fmt: skip
        assert [e.title_id for e in store.browse(s, "GB", end)] == ["t9"]  # end exclusive
        assert store.browse(s, "FR", T0) == []


def test_worldwide_window_with_exclusions(engine: Engine) -> None:
    write(engine, [win("ww", "WW", end=None, territories_excluded=["DE", "AT"])])
    with db.session_factory(engine)() as s:
        assert [e.title_id for e in store.browse(s, "FR", T0)] == ["ww"]
        assert store.browse(s, "DE", T0) == []
        detail = store.title_detail(s, "ww", "DE", T0)
        assert detail is not None and not detail.available and detail.windows == []


def test_browse_pages_by_title_id(engine: Engine) -> None:
    write(engine, [win(f"t{i:03d}", "GB") for i in range(25)])
    with db.session_factory(engine)() as s:
        seen, after = [], None
        while True:
            page = store.browse(s, "GB", T0, limit=10, after=after)
            if not page:
                break
            seen += [e.title_id for e in page]
            after = page[-1].title_id
        assert seen == [f"t{i:03d}" for i in range(25)]


def test_title_detail(engine: Engine) -> None:
    past = win("t1", "GB", LicenseType.EST, start=T0 - timedelta(days=90), end=T0)
    write(engine, [*catalogue_fixture(), past])
    with db.session_scope(engine) as s:
        store.record_presentation(s, "t1", summary(), "https://cdn.example/vod/")
    with db.session_factory(engine)() as s:
        d = store.title_detail(s, "t1", "GB", T0)
        assert d is not None and d.available and d.name == "Title t1"
        assert [(w.license_type, w.open) for w in d.windows] == [
            (LicenseType.EST, False), (LicenseType.SVOD, True), (LicenseType.TVOD, True)
        ]  # fmt: skip
        assert d.presentation is not None
        assert d.presentation.manifests["dash"] == "https://cdn.example/vod/t1/manifest.mpd"
        assert store.title_detail(s, "nope", "GB", T0) is None
        assert store.title_detail(s, "t1", "GB", T0 + timedelta(days=31)).available is False  # type: ignore[union-attr]


# -- presentations from packaging ---------------------------------------------------------


def test_record_presentation_creates_updates_and_is_idempotent(engine: Engine) -> None:
    with db.session_scope(engine) as s:
        assert store.record_presentation(s, "new", summary("new"), "https://cdn/v") == "created"
    with db.session_scope(engine) as s:
        assert store.record_presentation(s, "new", summary("new"), "https://cdn/v") == "unchanged"
    with db.session_scope(engine) as s:
        bigger = summary("new", heights=(360, 720, 1080, 2160))
        assert store.record_presentation(s, "new", bigger, "https://cdn/v") == "updated"
    with db.session_factory(engine)() as s:
        row = s.get(PresentationRow, "new")
        assert row is not None and s.get(TitleRow, "new") is not None  # title made on the fly
        assert row.manifests == {
            "hls": "https://cdn/v/new/master.m3u8",
            "dash": "https://cdn/v/new/manifest.mpd",
        }
        assert row.max_height == 2160
        assert [r["height"] for r in row.renditions if r["kind"] == "video"] == [
            360,
            720,
            1080,
            2160,
        ]
        assert row.kids == {"AUDIO": "k-a", "SD": "k-sd", "HD": "k-hd"}
        assert row.drm == {"systems": ["widevine"], "scheme": "cbcs", "license_url": "https://lic"}
        assert "timings" not in row.renditions[0]
    with pytest.raises(ValueError, match="not 'other'"), db.session_scope(engine) as s:
        store.record_presentation(s, "other", summary("new"), "https://cdn/v")


def test_browse_shows_packaging_state(engine: Engine) -> None:
    write(engine, catalogue_fixture())
    with db.session_scope(engine) as s:
        store.record_presentation(s, "t2", summary("t2"), "https://cdn")
    with db.session_factory(engine)() as s:
        state = {e.title_id: (e.packaged, e.max_height) for e in store.browse(s, "US", T0)}
    assert state == {"t1": (False, None), "t2": (True, 1080), "t3": (False, None)}


def test_store_feeds_the_decision(engine: Engine) -> None:
    write(engine, catalogue_fixture())
    with db.session_scope(engine) as s:
        store.record_presentation(s, "t1", summary(), "https://cdn")
    req = EntitlementRequest(
        title_id="t1",
        territory="GB",
        tier=None,
        device=Device(device_class=DeviceClass.TV, registered=True,
                      security_level=SecurityLevel.WIDEVINE_L3),
    )  # fmt: skip
    with db.session_factory(engine)() as s:
        inputs = store.entitlement_inputs(s, "t1", "GB")
        assert store.entitlement_inputs(s, "nope", "GB") is None
        nowhere = store.entitlement_inputs(s, "t1", "FR")  # known title, no rights in FR
        assert nowhere is not None and nowhere[0] == [] and nowhere[1] is not None
    assert inputs is not None
    windows, pres = inputs
    assert {w.territory for w in windows} == {"GB"}  # pre-filtered to the territory
    denied = decide(req, windows, [], pres, T0)
    assert denied.reason == "tier_excludes_title" and denied.offers == ["SVOD", "TVOD"]
    from catalogue.entitlement import Purchase

    rented = [Purchase(title_id="t1", license_type=LicenseType.TVOD, purchased_at=T0)]
    d = decide(req, windows, rented, pres, T0 + timedelta(hours=1))
    assert d.allowed and d.max_height == 576 and d.renditions == ["v360", "a-en"]
    assert d.policy is not None and d.policy.kids == {"AUDIO": "k-a", "SD": "k-sd"}
    assert d.manifests["hls"] == "https://cdn/t1/master.m3u8"


def test_worldwide_window_enters_the_decision_for_a_country(engine: Engine) -> None:
    """A title licensed only in `WW` plays in GB: the store must expand GB to its regions."""
    write(engine, [win("ww", "WW", LicenseType.AVOD, end=None, territories_excluded=["DE"])])
    with db.session_scope(engine) as s:
        store.record_presentation(s, "ww", summary("ww"), "https://cdn")
    device = Device(device_class=DeviceClass.TV, registered=True,
                    security_level=SecurityLevel.WIDEVINE_L3)  # fmt: skip
    with db.session_factory(engine)() as s:
        assert [e.title_id for e in store.browse(s, "GB", T0)] == ["ww"]
        gb, de = store.entitlement_inputs(s, "ww", "GB"), store.entitlement_inputs(s, "ww", "DE")
    assert gb is not None and de is not None
    assert [(w.territory, w.license_type) for w in gb[0]] == [("WW", LicenseType.AVOD)]
    ok = decide(EntitlementRequest(title_id="ww", territory="GB", tier=None, device=device),
                gb[0], [], gb[1], T0)  # fmt: skip
    assert ok.allowed and ok.license_type == LicenseType.AVOD and ok.renditions == ["v360", "a-en"]
    no = decide(EntitlementRequest(title_id="ww", territory="DE", tier=None, device=device),
                de[0], [], de[1], T0)  # fmt: skip
    assert not no.allowed and no.reason == "no_rights_in_territory"


# -- language versions: dub and sub rows are separate licences (issue 13) -----------------

LICENCE_COLUMNS = ("ALID", "Territory", "LicenseType", "FormatProfile", "HDR", "Start")
VERSION_COLUMNS = ("AssetLanguage", "LocalizationType")


def sheet_values(path: Path, columns: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Distinct `columns` over a workbook's data rows, read with openpyxl (not the importer)."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    found: set[tuple[str, ...]] = set()
    for sheet in workbook.worksheets:
        header: dict[str, int] | None = None
        for row in sheet.iter_rows(values_only=True):
            if header is None:
                if "LicenseType" in row:
                    header = {name: i for i, name in enumerate(row) if isinstance(name, str)}
                continue
            licence = row[header["LicenseType"]]
            if isinstance(licence, str) and licence.strip() and not licence.startswith("//"):
                found.add(tuple(str(row[header[c]] or "").strip().casefold() for c in columns))
    workbook.close()
    return found


@needs_samples
def test_movies_reimport_keeps_one_window_per_language_version(engine: Engine) -> None:
    versions = sheet_values(MOVIES, LICENCE_COLUMNS + VERSION_COLUMNS)
    assert len(sheet_values(MOVIES, LICENCE_COLUMNS)) < len(versions)  # dub rows used to merge
    result = import_file(MOVIES)
    assert result.errors == []
    assert write(engine, result.windows) == store.ImportCounts(inserted=len(versions))
    again = write(engine, import_file(MOVIES).windows)
    assert again == store.ImportCounts(unchanged=len(versions))
    assert count(engine, WindowRow) == len(versions)
    with db.session_factory(engine)() as s:
        stored = {
            (r.territory.casefold(), r.language or "", r.localization or "")
            for r in s.scalars(select(WindowRow))
        }  # fmt: skip
    assert stored == sheet_values(MOVIES, ("Territory", *VERSION_COLUMNS))  # CA: en and fr dub


def test_browse_and_title_detail_carry_the_language_version(engine: Engine) -> None:
    any_language = win("t1", "CA", LicenseType.EST, end=None)
    french_dub = win("t1", "CA", LicenseType.EST, end=None, language="fr",
                     localization=Localization.DUB)  # fmt: skip
    assert write(engine, [any_language, french_dub]) == store.ImportCounts(inserted=2)
    with db.session_factory(engine)() as s:
        (entry,) = store.browse(s, "CA", T0)
        versions = [(o.language, o.localization) for o in entry.offers]
        assert versions == [(None, None), ("fr", Localization.DUB)]
        detail = store.title_detail(s, "t1", "CA", T0)
        assert detail is not None
        assert [(w.language, w.localization) for w in detail.windows] == versions
        inputs = store.entitlement_inputs(s, "t1", "CA")
    assert inputs is not None
    assert sorted(w.key() for w in inputs[0]) == sorted([any_language.key(), french_dub.key()])


def test_migration_0002_keeps_existing_windows_as_any_language(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    migrations.downgrade(url, "0001_initial")
    try:
        with engine.begin() as conn:  # a window written before languages existed
            conn.execute(insert(TitleRow.__table__), [{"id": "t1", "name": "Title t1"}])
            conn.execute(
                insert(WindowRow.__table__),
                [{"title_id": "t1", "alid": "md:alid:t1", "territory": "GB",
                  "territories_excluded": [], "license_type": "SVOD", "format_profile": "HD",
                  "hdr": False, "starts_at": T0, "ends_at": None, "languages": ["en"]}],
            )  # fmt: skip
    finally:
        migrations.upgrade(url)  # the upgrade under test, and the shared database back at head
        engine.dispose()
    with db.session_factory(engine)() as s:
        row = s.scalars(select(WindowRow)).one()
        assert (row.language, row.localization, row.languages) == (None, None, ["en"])
    assert write(engine, [win(end=None, languages=["en"])]) == store.ImportCounts(unchanged=1)
    dub = win(end=None, languages=["en"], language="fr", localization=Localization.DUB)
    assert write(engine, [dub]) == store.ImportCounts(inserted=1)
