"""The catalogue HTTP API and CLI: in-process TestClient, a real uvicorn on 127.0.0.1, and
schemathesis fuzzing the served OpenAPI schema (bounded) for server errors."""

from __future__ import annotations

import json
import sys
import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.app import CATALOGUE_ONLY, create_app
from catalogue import db, store
from catalogue.model import (
    AvailabilityWindow,
    FormatProfile,
    ImportResult,
    LicenseType,
    PriceTerms,
    RowError,
    Title,
)
from tests.support.postgres import admin_sql
from tests.support.schema_fuzz import fuzz_operation
from tests.support.subscriber_db import running
from vod.commands.catalogue import catalogue

T0 = datetime(2025, 6, 1, tzinfo=UTC)
AT = "2025-06-02T00:00:00Z"


def win(title: str, territory: str, lt: LicenseType = LicenseType.SVOD, **kw: Any):
    return AvailabilityWindow(
        title=Title(alid=f"alid-{title}", content_id=title, name=f"Title {title}"),
        territory=territory,
        license_type=lt,
        start=kw.pop("start", T0),
        end=kw.pop("end", T0 + timedelta(days=30)),
        **kw,
    )


def summary(title_id: str) -> dict:
    return {
        "title_id": title_id,
        "hls": f"/origin/{title_id}/master.m3u8",
        "dash": f"/origin/{title_id}/manifest.mpd",
        "duration": 12.0,
        "renditions": [
            {
                "id": f"v{h}",
                "kind": "video",
                "codecs": "avc1.64001f",
                "height": h,
                "width": h * 16 // 9,
                "bandwidth": h * 4000,
            }
            for h in (360, 576, 720, 1080, 2160)
        ]  # fmt: skip
        + [{"id": "a-en", "kind": "audio", "codecs": "mp4a.40.2", "language": "en"}],
        "drm": {
            "systems": ["widevine"],
            "scheme": "cbcs",
            "kids": {"AUDIO": "k-a", "SD": "k-sd", "HD": "k-hd", "UHD": "k-uhd"},
        },  # fmt: skip
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A catalogue on each backend (SQLite file, PostgreSQL database of its own): t1 (SVOD
    basic GB/US + TVOD UHD GB, packaged), t2 (GB, unpackaged), jp1 (opens at midnight JST on
    2025-06-01)."""
    if request.param == "sqlite":
        yield _seed(f"sqlite:///{tmp_path_factory.mktemp('api') / 'catalogue.db'}")
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"vod_api_{uuid.uuid4().hex[:12]}"
    admin_sql(admin, f'CREATE DATABASE "{name}"')
    try:
        yield _seed(admin.rsplit("/", 1)[0] + f"/{name}")
    finally:
        admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(url: str) -> str:
    engine = db.setup(url)
    windows = [
        win("t1", "GB", price=PriceTerms(tier="basic")),
        win("t1", "US", price=PriceTerms(tier="basic")),
        win("t1", "GB", LicenseType.TVOD, format_profile=FormatProfile.UHD,
            price=PriceTerms(srp=Decimal("4.49"), currency="GBP"), rental_duration_hours=48),
        win("t2", "GB"),
        win("jp1", "JP", start=datetime(2025, 5, 31, 15, tzinfo=UTC), end=None),
    ]  # fmt: skip
    with db.session_scope(engine) as s:
        store.import_windows(s, windows)
        store.record_presentation(s, "t1", summary("t1"), "https://cdn.example/vod")
        store.record_presentation(s, "jp1", summary("jp1"), "https://cdn.example/vod")
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def client(database_url: str, operator_headers: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(database_url, routers=CATALOGUE_ONLY)
    with TestClient(app, headers=operator_headers) as c:
        yield c


def body(**over: Any) -> dict:
    b = {
        "title_id": "t1",
        "territory": "GB",
        "tier": {"name": "basic", "max_height": 1080},
        "device": {"device_class": "tv", "registered": True, "security_level": "L1"},
        "at": AT,
    }
    b.update(over)
    return b


# -- in-process ---------------------------------------------------------------------------


def test_browse(client: TestClient) -> None:
    r = client.get("/catalogue", params={"territory": "gb", "at": AT})
    assert r.status_code == 200
    page = r.json()
    assert page["territory"] == "GB" and page["next_after"] is None
    items = {i["title_id"]: i for i in page["items"]}
    assert set(items) == {"t1", "t2"}
    assert items["t1"]["packaged"] is True and items["t1"]["max_height"] == 2160
    assert items["t2"]["packaged"] is False
    assert {o["license_type"] for o in items["t1"]["offers"]} == {"SVOD", "TVOD"}
    paged = client.get("/catalogue", params={"territory": "GB", "at": AT, "limit": 1}).json()
    assert [i["title_id"] for i in paged["items"]] == ["t1"] and paged["next_after"] == "t1"
    rest = client.get("/catalogue", params={"territory": "GB", "at": AT, "after": "t1"}).json()
    assert [i["title_id"] for i in rest["items"]] == ["t2"]


def test_browse_japan_local_midnight(client: TestClient) -> None:
    def titles(at: str) -> list[str]:
        r = client.get("/catalogue", params={"territory": "JP", "at": at})
        return [i["title_id"] for i in r.json()["items"]]

    assert titles("2025-05-31T14:00:00Z") == []
    assert titles("2025-05-31T15:00:00Z") == ["jp1"]
    assert titles("2025-06-01T00:00:00+09:00") == ["jp1"]


def test_title_detail_and_404(client: TestClient) -> None:
    r = client.get("/titles/t1", params={"territory": "GB", "at": AT})
    assert r.status_code == 200
    d = r.json()
    assert d["available"] is True and len(d["windows"]) == 2
    assert d["presentation"]["manifests"]["hls"] == "https://cdn.example/vod/t1/master.m3u8"
    assert "kids" not in d["presentation"]
    assert [w["srp"] for w in d["windows"] if w["license_type"] == "TVOD"] == ["4.49"]
    r = client.get("/titles/t1", params={"territory": "FR", "at": AT})
    assert r.status_code == 200 and r.json()["available"] is False
    r = client.get("/titles/missing", params={"territory": "GB"})
    assert r.status_code == 404 and "missing" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"territory": "GBR"}, "territory"),
        ({"territory": "G1"}, "territory"),
        ({"territory": "GB", "at": "2025-06-01T00:00:00"}, "at"),  # no zone
        ({"territory": "GB", "at": "yesterday"}, "at"),
        ({"territory": "GB", "at": "0001-01-01T00:00:00+05:00"}, "at"),  # before year 1 in UTC
        ({"territory": "GB", "limit": 0}, "limit"),
        ({"territory": "GB", "after": "../x"}, "after"),
        ({}, "territory"),
    ],
)
def test_browse_rejects_bad_input_with_422(client: TestClient, params: dict, where: str) -> None:
    r = client.get("/catalogue", params=params)
    assert r.status_code == 422
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["reason"] == "invalid_request" and where in problem["detail"]
    assert any(where in err["loc"] for err in problem["errors"])


def test_entitlement_allowed_with_policy(client: TestClient) -> None:
    r = client.post("/entitlements", json=body())
    assert r.status_code == 200
    d = r.json()
    assert d["allowed"] is True and d["license_type"] == "SVOD"
    assert d["max_height"] == 1080 and d["caps"]["tier"] == 1080
    assert d["renditions"] == ["v360", "v576", "v720", "v1080", "a-en"]
    assert d["manifests"]["dash"] == "https://cdn.example/vod/t1/manifest.mpd"
    assert d["policy"]["hdcp"] == "TYPE-0" and d["policy"]["persistent"] is False
    assert d["policy"]["kids"] == {"AUDIO": "k-a", "SD": "k-sd", "HD": "k-hd"}


def test_entitlement_rental_on_software_cdm(client: TestClient) -> None:
    rental = {"title_id": "t1", "license_type": "TVOD", "purchased_at": "2025-06-01T12:00:00Z"}
    dev = {"device_class": "desktop", "registered": True, "security_level": "L3"}
    d = client.post("/entitlements", json=body(tier=None, device=dev, purchases=[rental])).json()
    assert d["allowed"] and d["license_type"] == "TVOD" and d["max_height"] == 576
    assert d["policy"]["hdcp"] == "NONE" and d["policy"]["key_labels"] == ["AUDIO", "SD"]
    assert d["policy"]["rental_duration_seconds"] == 36 * 3600  # 48 h rental, bought 12 h ago


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"territory": "FR"}, "no_rights_in_territory"),
        ({"at": "2025-05-01T00:00:00Z"}, "window_not_open"),
        ({"at": "2025-08-01T00:00:00Z"}, "window_closed"),
        ({"tier": {"name": "kids"}}, "tier_excludes_title"),
        ({"device": {"device_class": "tv", "registered": False, "security_level": "L1"}},
         "device_not_registered"),
        ({"title_id": "t2"}, "not_packaged"),
    ],
)  # fmt: skip
def test_entitlement_denials(client: TestClient, over: dict, reason: str) -> None:
    r = client.post("/entitlements", json=body(**over))
    assert r.status_code == 200
    assert r.json()["allowed"] is False and r.json()["reason"] == reason


def test_entitlement_unknown_title_and_bad_bodies(client: TestClient) -> None:
    assert client.post("/entitlements", json=body(title_id="zz")).status_code == 404
    bad = [
        body(territory="England"),
        body(device={"device_class": "fridge", "registered": True, "security_level": "L1"}),
        body(device={"device_class": "tv", "registered": True, "security_level": "L9"}),
        body(at="2025-06-01T00:00:00"),
        body(purchases=[{"title_id": "t1", "license_type": "SVOD", "purchased_at": AT}]),
        body(purchases=[{"title_id": "t1", "license_type": "TVOD", "purchased_at": "2025-06-01"}]),
        body(tier={"name": "basic", "max_height": 0}),
    ]
    for b in bad:
        r = client.post("/entitlements", json=b)
        assert r.status_code == 422, b
    assert client.post("/entitlements", content=b"{not json").status_code == 422


def test_openapi_documents_every_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/catalogue", "/titles/{title_id}", "/entitlements"}
    assert "404" in spec["paths"]["/titles/{title_id}"]["get"]["responses"]
    reasons = spec["components"]["schemas"]["Reason"]["enum"]
    assert "no_rights_in_territory" in reasons and "rental_expired" in reasons


# -- a real server on loopback -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    """uvicorn on 127.0.0.1:<free port> in a thread; yields its base URL."""
    with running(create_app(database_url, routers=CATALOGUE_ONLY)) as url:
        yield url


def test_real_server_decides_over_http(server: str, operator_headers: dict[str, str]) -> None:
    with httpx.Client(base_url=server, timeout=10, headers=operator_headers) as h:
        assert (
            h.get("/catalogue", params={"territory": "US", "at": AT}).json()["items"][0]["title_id"]
            == "t1"
        )
        d = h.post("/entitlements", json=body(territory="US")).json()
        assert d["allowed"] and d["max_height"] == 1080
        assert h.get("/catalogue", params={"territory": "nope"}).status_code == 422


@pytest.fixture(scope="module")
def api_schema(server: str) -> Any:
    """The schema the running server publishes (so fuzzing sees exactly what clients see)."""
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


OPERATIONS = [("/catalogue", "GET"), ("/titles/{title_id}", "GET"), ("/entitlements", "POST")]


# schemathesis' own pytest loader (`from_fixture`) relies on pytest internals that pytest 9
# removed, so each operation's strategy is driven by hypothesis directly.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_requests_never_cause_a_server_error(
    api_schema: Any, server: str, path: str, method: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    cases = operation.as_strategy(generation_mode=mode)
    if mode == GenerationMode.POSITIVE:  # random ids only ever 404: aim half at a real title
        cases = st.one_of(cases, cases.map(_known_title))
    statuses = fuzz_operation(operation, server, mode, max_examples=30, deadline=2000,
                              timeout=10, cases=cases)  # fmt: skip
    if mode == GenerationMode.POSITIVE:
        assert 200 in statuses  # and reached the handlers, not only validation


def _known_title(case: schemathesis.Case) -> schemathesis.Case:
    if "title_id" in (case.path_parameters or {}):
        case.path_parameters["title_id"] = "t1"
    if isinstance(case.body, dict):
        case.body["title_id"] = "t1"
    return case


# -- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def fake_importer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for catalogue.importer (written elsewhere): two windows and one rejected row."""

    def import_file(path: Path) -> ImportResult:
        return ImportResult(
            windows=[win("c1", "GB"), win("c1", "FR")],
            errors=[
                RowError(
                    file=str(path),
                    location="row 7",
                    field="Territory",
                    value="XX",
                    problem="not an ISO 3166-1 code",
                )
            ],  # fmt: skip
        )

    module = types.ModuleType("catalogue.importer")
    module.import_file = import_file  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "catalogue.importer", module)


def test_cli_import_is_idempotent_and_fails_on_row_errors(
    fake_importer: None, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    src = tmp_path / "avails.xml"
    src.write_text("<x/>")
    runner = CliRunner()
    first = runner.invoke(catalogue, ["--database-url", url, "import", str(src)])
    assert first.exit_code == 1
    assert "2 inserted, 0 updated, 0 unchanged" in first.stdout
    assert "row 7: Territory='XX'" in first.stderr
    again = runner.invoke(catalogue, ["--database-url", url, "import", str(src)])
    assert "0 inserted, 0 updated, 2 unchanged" in again.stdout

    listed = runner.invoke(
        catalogue, ["--database-url", url, "list", "--territory", "fr", "--at", AT, "--json"]
    )
    assert listed.exit_code == 0, listed.output
    assert [e["title_id"] for e in json.loads(listed.stdout)] == ["c1"]
    text = runner.invoke(catalogue, ["--database-url", url, "list", "--territory", "GB",
                                     "--at", AT])  # fmt: skip
    assert text.exit_code == 0 and text.stdout.startswith("c1\tTitle c1\tSVOD/HD\tnot packaged")
    bad = runner.invoke(catalogue, ["--database-url", url, "list", "--territory", "GB",
                                    "--at", "2025-06-01"])  # fmt: skip
    assert bad.exit_code == 2 and "no zone" in bad.output


def test_cli_uses_vod_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOD_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    r = CliRunner().invoke(catalogue, ["list", "--territory", "GB", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert (tmp_path / "env.db").exists()


def test_prices_show_the_currencys_minor_unit_whatever_the_database_returns() -> None:
    """PostgreSQL's numeric(12, 4) hands back 4.4900; the API shows 4.49 (JPY: 500)."""
    from catalogue.views import Offer

    def offer(srp: str, currency: str) -> Offer:
        return Offer(license_type="TVOD", format_profile="HD", srp=Decimal(srp),
                     currency=currency, start=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip

    assert offer("4.4900", "GBP").model_dump(mode="json")["srp"] == "4.49"
    assert offer("500.0000", "JPY").model_dump(mode="json")["srp"] == "500"


# -- worldwide rights through the API, on both databases ------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ww_client(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    operator_headers: dict[str, str],
) -> Iterator[TestClient]:
    """A catalogue holding one title, `ww1`, licensed only in `WW` (DE excluded), packaged."""
    if request.param == "sqlite":
        url, admin = f"sqlite:///{tmp_path_factory.mktemp('ww') / 'catalogue.db'}", None
    else:
        admin = request.getfixturevalue("pg_admin_url")
        name = f"vod_ww_{uuid.uuid4().hex[:12]}"
        admin_sql(admin, f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = db.setup(url)
        ww = win("ww1", "WW", end=None, territories_excluded=["DE"], price=PriceTerms(tier="basic"))
        with db.session_scope(engine) as s:
            store.import_windows(s, [ww])
            store.record_presentation(s, "ww1", summary("ww1"), "https://cdn.example/vod")
        engine.dispose()
        with TestClient(create_app(url, routers=CATALOGUE_ONLY), headers=operator_headers) as c:
            yield c
    finally:
        if admin is not None:
            admin_sql(admin, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_worldwide_title_is_browsable_and_entitled_in_a_country(ww_client: TestClient) -> None:
    page = ww_client.get("/catalogue", params={"territory": "GB", "at": AT}).json()
    assert [i["title_id"] for i in page["items"]] == ["ww1"]
    detail = ww_client.get("/titles/ww1", params={"territory": "GB", "at": AT})
    assert detail.status_code == 200 and detail.json()["available"] is True
    assert [w["territory"] for w in detail.json()["windows"]] == ["WW"]
    r = ww_client.post("/entitlements", json=body(title_id="ww1"))
    assert r.status_code == 200
    d = r.json()
    assert d["allowed"] is True and d["license_type"] == "SVOD", d
    assert d["renditions"] == ["v360", "v576", "v720", "v1080", "a-en"]
    assert d["manifests"]["hls"] == "https://cdn.example/vod/ww1/master.m3u8"
    excluded = ww_client.post("/entitlements", json=body(title_id="ww1", territory="DE")).json()
    assert excluded["allowed"] is False and excluded["reason"] == "no_rights_in_territory"
