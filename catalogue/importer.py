"""Import one rights file, whatever its format, by looking at its content (not its name).

Partners name files carelessly ("avails.txt", "Q3.xml.xlsx"), so we sniff the bytes:
a zip (PK\\x03\\x04) is an Avails spreadsheet, '<' (after a BOM or whitespace) is XML and
must have an Avails v2.x root namespace, '{' is our JSON sidecar. Anything else, a legacy
.xls, an empty or oversized file is a PipelineError naming the file; problems inside a good
file are RowErrors in the result. Output order is the file's order, so importing the same
file twice yields the same windows and keys (AvailabilityWindow.key) in the same order.
"""

from __future__ import annotations

from pathlib import Path

from catalogue.avails.from_xlsx import parse_avails_xlsx
from catalogue.avails.from_xml import MAX_XML_BYTES, avails_from_root
from catalogue.model import ImportResult
from catalogue.sidecar import parse_sidecar
from core.errors import PipelineError
from core.xml_safety import parse_xml

MAX_FILE_BYTES = 64 * 1024 * 1024
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc) container
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def detect_format(data: bytes) -> str:
    """'xlsx', 'xls', 'xml', 'json' or 'unknown' from the first bytes of a file."""
    if data.startswith(_ZIP):
        return "xlsx"
    if data.startswith(_OLE2):
        return "xls"
    if data.startswith(_BOMS[1:]):
        return "xml"  # UTF-16 text: only XML declares its own encoding
    head = data.removeprefix(_BOMS[0]).lstrip()[:1]
    return {b"<": "xml", b"{": "json"}.get(head, "unknown")


def import_bytes(data: bytes, source: str) -> ImportResult:
    """Windows and row errors from file content; `source` names the file in every error."""
    if not data.strip():
        raise PipelineError(source, "the file is empty", stage="rights")
    if len(data) > MAX_FILE_BYTES:
        raise PipelineError(
            source,
            f"the file is {len(data)} bytes, over the {MAX_FILE_BYTES} limit",
            stage="rights",
        )
    kind = detect_format(data)
    if kind == "xlsx":
        return parse_avails_xlsx(data, source)
    if kind == "xml":
        return avails_from_root(parse_xml(data, source, max_bytes=MAX_XML_BYTES), source)
    if kind == "json":
        return parse_sidecar(data, source)
    if kind == "xls":
        cause = "legacy .xls workbooks are not supported; save the Avails sheet as .xlsx"
    else:
        cause = (
            "unrecognised format: expected Avails XML, an Avails XLSX workbook or a JSON sidecar"
        )
    raise PipelineError(source, cause, stage="rights")


def import_file(path: str | Path) -> ImportResult:
    """Read and import one rights file (Avails XML v2.x, Avails XLSX v1.7-1.9, JSON sidecar)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PipelineError(
            path, f"cannot read the file: {exc.strerror or exc}", stage="rights"
        ) from None
    return import_bytes(data, str(path))
