"""A price (or duration) the catalogue cannot store rejects its row, not the file (issue 12).

`srp: 1e20` used to reach PostgreSQL's numeric(12, 4) and roll the whole import back with a
traceback (SQLite stored it). Prices are now checked at parse time against the column, so on
both backends `vod catalogue import` stores the good rows, names each rejected row on stderr and
exits 1; a price with more than four decimals is rounded as PostgreSQL would, on both.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from catalogue import db
from catalogue.avails.values import parse_hours, parse_run_length
from catalogue.importer import import_bytes
from catalogue.model import MAX_MONEY, MONEY_DIGITS, MONEY_PLACES, storable_money
from catalogue.tables import Money, WindowRow
from tests.support.avails import HEADER, make_workbook
from vod.commands.catalogue import catalogue


def window(territory: str, srp: object) -> dict:
    return {"territory": territory, "license_type": "TVOD", "start": "2026-01-01T00:00:00Z",
            "price": {"srp": srp, "currency": "EUR"}}  # fmt: skip


def test_cli_imports_the_good_rows_and_names_the_overflowing_one(
    tmp_path: Path, database_url: str
) -> None:
    title = f"prices-{Path(tmp_path).name[-8:]}".replace("_", "-")
    hours = {**window("IT", "1.99"), "rental_duration_hours": 10**12}  # int4 overflow too
    rights = {"title_id": title, "name": "Prices", "windows": [
        window("FR", 1e20), window("DE", "4.99"), window("IE", "99999999.99995"),
        window("ES", "2.49999"), hours]}  # fmt: skip
    path = tmp_path / "rights.json"
    path.write_text(json.dumps(rights))
    result = CliRunner().invoke(catalogue, ["--database-url", database_url, "import", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stderr
    assert f"{path}: windows[0]: price.srp='1e+20'" in errors[0] and "less than" in errors[0]
    assert "windows[2]: price.srp='99999999.99995'" in errors[1] and "too large" in errors[1]
    assert "windows[4]: rental_duration_hours='1000000000000'" in errors[2]
    assert "2 windows" in result.stdout and "3 errors" in result.stdout

    engine = db.make_engine(database_url)
    try:
        with db.session_factory(engine)() as s:
            rows = s.scalars(select(WindowRow).where(WindowRow.title_id == title)).all()
            stored = {r.territory: r.srp for r in rows}
    finally:
        engine.dispose()
    assert stored == {"DE": Decimal("4.99"), "ES": Decimal("2.5")}  # rounded like numeric(12,4)


def test_an_avails_row_with_an_overflowing_price_is_a_row_error() -> None:
    header = [*HEADER, "PriceType", "PriceValue", "PriceCurrency"]
    common = ["GB", "TVOD", "HD", "2026-01-01", "Open"]
    rows = [header,
            ["md:alid:x:1", "c1", *common, "SRP", "1E20", "GBP"],
            ["md:alid:x:2", "c2", *common, "SRP", "3.49", "GBP"],
            ["md:alid:x:3", "c3", *common, "WSP", "-1", "GBP"]]  # fmt: skip
    result = import_bytes(make_workbook(rows), "avails.xlsx")
    assert [w.title.content_id for w in result.windows] == ["c2"]
    assert [w.price.srp for w in result.windows] == [Decimal("3.49")]
    assert [(e.location.split(",")[0], e.field, e.value) for e in result.errors] == [
        ("sheet 'Movies' row 2", "PriceValue", "1E20"),
        ("sheet 'Movies' row 4", "PriceValue", "-1"),
    ]
    assert "too large" in result.errors[0].problem


@pytest.mark.parametrize(
    ("text", "stored"),
    [("3.49", "3.49"), ("0", "0"), ("99999999.9999", "99999999.9999"), ("1.00005", "1.0001")],
)
def test_storable_money_rounds_like_the_column(text: str, stored: str) -> None:
    assert str(storable_money(Decimal(text))) == stored


@pytest.mark.parametrize("text", ["1E+8", "99999999.99995", "1e400", "-0.01", "NaN", "Infinity"])
def test_storable_money_refuses_what_the_column_cannot_hold(text: str) -> None:
    with pytest.raises(ValueError):
        storable_money(Decimal(text))


def test_the_limits_are_the_money_columns() -> None:
    column = Money().impl
    assert (column.precision, column.scale) == (MONEY_DIGITS, MONEY_PLACES)
    assert str(MAX_MONEY) == "100000000"


@pytest.mark.parametrize(
    ("kind", "text", "problem"),
    [("Duration", "PT87841H", "ten years"), ("Number", "1e12", "ten years"),
     ("Duration", "PT48H", None)],
)  # fmt: skip
def test_rental_hours_are_bounded(kind: str, text: str, problem: str | None) -> None:
    if problem is None:
        assert parse_hours(kind, text) == 48
    else:
        with pytest.raises(ValueError, match=problem):
            parse_hours(kind, text)


def test_run_length_fits_the_integer_column() -> None:
    assert parse_run_length("PT1H37M49S") == 5869
    with pytest.raises(ValueError, match="longer than"):
        parse_run_length("PT1000000H")
