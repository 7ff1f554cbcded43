"""The MovieLabs Avails samples (fixtures/avails, MIT-licensed: see its SOURCE.md) and helpers
that count what they hold independently of the importer (lxml, openpyxl).

    from tests.support.avails import DATA, MOVIES, SAMPLES, TV, XML_BAD, XML_OK, needs_samples
"""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from lxml import etree

from tests.support.requirements import requires

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "avails"
XML_OK = DATA / "Avails_noErrors_v2.4.xml"
XML_BAD = DATA / "Avails_withErrors.xml"
MOVIES = DATA / "Movies_v1.9.xlsx"
TV = DATA / "TV_v1.9.xlsx"
SAMPLES = sorted(p for p in DATA.glob("*") if p.suffix in (".xml", ".xlsx"))

# They are committed: a missing file is a broken checkout (fails under CI=true).
needs_samples = requires(
    all(p.is_file() for p in (XML_OK, XML_BAD, MOVIES, TV)),
    f"Avails samples in {DATA}",
    "restore fixtures/avails from git",
)
# The header row of a minimal Avails sheet (make_workbook).
HEADER = ["ALID", "ContentID", "Territory", "LicenseType", "FormatProfile", "Start", "End"]


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


def make_workbook(rows: list[list[object]], title: str = "Movies") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
