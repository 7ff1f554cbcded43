"""The CPIX 2.3 XSD check: every document we write or read is validated offline.

The XSD and its imports (PSKC, XML Encryption, XML Signature) ship in drm/schemas/cpix and
are never fetched: imports resolve to those copies, anything else is refused, and parsing
loads no DTD and touches no network. Known SPEKE v2.0 deviations that do not change meaning
are aligned first (`normalize_legacy`).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from lxml import etree

from drm.keyexchange.cpix.model import CPIX_NS, CpixError, b64_text, q, unb64

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "cpix"
SCHEMA_FILES = ("cpix.xsd", "pskc.xsd", "xenc-schema.xsd", "xmldsig-core-schema.xsd")


class _SchemaResolver(etree.Resolver):
    """Maps the XSD imports to our packaged copies; anything else is refused, never fetched."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object):
        name = (system_url or "").replace("\\", "/").rsplit("/", 1)[-1]
        if name in SCHEMA_FILES:
            return self.resolve_filename(str(SCHEMA_DIR / name), context)
        raise etree.XMLSchemaParseError(f"schema import refused: {system_url or public_id}")


@lru_cache(maxsize=1)
def load_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_SchemaResolver())
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "cpix.xsd"), parser))


_schema_lock = threading.Lock()  # an XMLSchema keeps its error log on itself


def validate(root: etree._Element, source: str) -> None:
    """Raise CpixError naming the first violations (with their lines) unless `root` is valid."""
    with _schema_lock:
        schema = load_schema()
        if schema.validate(root):
            return
        errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    shown = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    raise CpixError(source, f"not valid CPIX 2.3: {shown}", detail="\n".join(errors))


_DRM_CHILD_ORDER = {"PSSH": 0, "ContentProtectionData": 1, "HLSSignalingData": 2}


def _drm_child_rank(el: etree._Element) -> int:
    """Position in the XSD's DRMSystem sequence; stable sort keeps equal ranks in order."""
    if not isinstance(el.tag, str) or not el.tag.startswith(f"{{{CPIX_NS}}}"):
        return 4  # comments and other-namespace extensions go last
    return _DRM_CHILD_ORDER.get(etree.QName(el).localname, 3)


def normalize_legacy(root: etree._Element, source: str) -> dict[tuple[str, str], str]:
    """Rewrite the known SPEKE v2.0 deviations from the 2.3 XSD; return URIExtXKey values.

    SPEKE v2.0 documents (and AWS's examples) write playlist="master", put DRMSystem
    children in another order than the XSD sequence, and may still carry the CPIX 2.0
    cpix:URIExtXKey. None of that changes meaning, so it is aligned before validation.
    """
    uris: dict[tuple[str, str], str] = {}
    for drm in root.iterfind(f"{q('DRMSystemList')}/{q('DRMSystem')}"):
        for hls in drm.iterfind(q("HLSSignalingData")):
            if hls.get("playlist") == "master":
                hls.set("playlist", "multiVariant")
        for el in drm.findall(q("URIExtXKey")):
            text = b64_text(el)
            if text:
                unb64(text, source, f"URIExtXKey (line {el.sourceline})")
                uris[(drm.get("kid", "").lower(), drm.get("systemId", "").lower())] = text
            drm.remove(el)
        children = list(drm)
        ordered = sorted(children, key=_drm_child_rank)
        if ordered != children:
            drm[:] = ordered
    return uris
