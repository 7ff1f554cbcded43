"""Parse untrusted XML (key-server answers, partner feeds, MPDs) without XXE, bombs or network.

Key exchange documents and manifests under validation come from outside our control (the
former carry content keys), so the parser must never expand entities, load a DTD, fetch a URL
or read a local file named by the document. Every DOCTYPE is refused outright: CPIX, MPD and
similar formats never need one, and refusing it removes XXE and "billion laughs" as a class
instead of defusing each variant.
"""

from __future__ import annotations

from lxml import etree

from core.errors import PipelineError

DEFAULT_MAX_BYTES = 16 * 1024 * 1024  # far above any real key document; caps memory use


class XmlSafetyError(PipelineError):
    """Untrusted XML that is malformed, oversized or tries to use a DOCTYPE."""

    def __init__(self, source: str, cause: str, detail: str = ""):
        super().__init__(source, cause, stage="xml", detail=detail)


class DoctypeRefused(XmlSafetyError):
    """The document has a DOCTYPE; it was refused before anything in it was read."""

    def __init__(self, source: str):
        super().__init__(source, _DOCTYPE_REFUSED)


class NotWellFormed(XmlSafetyError):
    """lxml could not parse the document; `syntax_error` is lxml's own exception."""

    def __init__(self, source: str, syntax_error: etree.XMLSyntaxError):
        self.syntax_error = syntax_error
        line = f" (line {syntax_error.lineno})" if getattr(syntax_error, "lineno", None) else ""
        super().__init__(source, f"not well-formed XML{line}: {syntax_error.msg}")


class _RefuseAll(etree.Resolver):
    """Belt and braces: if libxml2 ever asks to load anything external, say no."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object):
        raise etree.XMLSyntaxError(
            f"external resource refused: {system_url or public_id}", None, 0, 0
        )


def safe_parser(*, remove_pis: bool = False) -> etree.XMLParser:
    """An lxml parser that never expands entities, loads DTDs or touches the network."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=remove_pis,
    )
    parser.resolvers.add(_RefuseAll())
    return parser


class _DoctypeFound(Exception):
    pass


class _DoctypeSentinel:
    """Parser target that stops at the DOCTYPE, before its internal subset is read."""

    def doctype(self, name: str, public_id: str | None, system_url: str | None) -> None:
        raise _DoctypeFound(name)

    def close(self) -> None:
        return None


def _refuse_doctype_first(data: bytes, source: str) -> None:
    """First pass: stop at a DOCTYPE before any entity in it is declared or used."""
    parser = etree.XMLParser(
        target=_DoctypeSentinel(),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        etree.fromstring(data, parser)
    except _DoctypeFound:
        raise DoctypeRefused(source) from None
    except etree.XMLSyntaxError:
        return  # malformed: the second pass reports it with its line number


_DOCTYPE_REFUSED = (
    "refused: the document has a DOCTYPE (DTDs and entities are not allowed; "
    "they enable XXE file reads and entity-expansion attacks)"
)


def _has_doctype(tree: etree._ElementTree) -> bool:
    info = tree.docinfo
    return bool(
        info.doctype
        or info.internalDTD is not None
        or info.externalDTD is not None
        or info.system_url
        or info.public_id
    )


def parse_xml(
    data: bytes, source: str, *, max_bytes: int = DEFAULT_MAX_BYTES, remove_pis: bool = False
) -> etree._Element:
    """Parse `data` and return its root element; `source` names the document in errors.

    Raises XmlSafetyError for non-bytes input, oversized input, malformed XML (NotWellFormed)
    and any DOCTYPE (DoctypeRefused: entities are never expanded, so the refusal happens
    before anything is read). `remove_pis` drops processing instructions while parsing.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise XmlSafetyError(source, f"expected XML bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise XmlSafetyError(source, f"document is {len(data)} bytes, over the {max_bytes} limit")
    if not data.strip():
        raise XmlSafetyError(source, "not XML: the document is empty")
    _refuse_doctype_first(data, source)
    parser = safe_parser(remove_pis=remove_pis)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise NotWellFormed(source, exc) from None
    if root is None:
        raise XmlSafetyError(source, "not XML: no root element")
    if _has_doctype(root.getroottree()):  # second line of defence
        raise DoctypeRefused(source)
    return root
