"""Reading CPIX 2.3 documents: a key provider's answer, or a request to our own key server.

Parsing refuses any DOCTYPE (no entities, no DTD, no network), aligns the known SPEKE v2.0
deviations unless `strict`, validates against the XSD, then checks what the XSD cannot: KIDs
referenced but not listed, duplicate KIDs and labels, key and IV sizes. Encrypted content keys
(DocumentKey) are refused as unsupported.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from lxml import etree

from core.xml_safety import XmlSafetyError, parse_xml
from drm.keyexchange.cpix.model import (
    CPIX_NS,
    PSKC_NS,
    AudioFilter,
    CpixDocument,
    CpixError,
    DrmSignalling,
    KeyData,
    UsageRule,
    VideoFilter,
    b64_text,
    q,
    unb64,
)
from drm.keyexchange.cpix.schema import normalize_legacy, validate
from drm.keys import kid_uuid


def _int(el: etree._Element, name: str) -> int | None:
    value = el.get(name)
    return int(value) if value is not None else None


def _parse_keys(
    root: etree._Element, source: str, require_keys: bool
) -> tuple[list[bytes], dict[bytes, KeyData], dict[bytes, str | None]]:
    kids: list[bytes] = []
    keys: dict[bytes, KeyData] = {}
    schemes: dict[bytes, str | None] = {}
    for el in root.iterfind(f"{q('ContentKeyList')}/{q('ContentKey')}"):
        kid = uuid.UUID(el.get("kid")).bytes
        where = f"ContentKey {kid_uuid(kid)} (line {el.sourceline})"
        if kid in schemes:
            raise CpixError(source, f"duplicate KID: {where} appears more than once")
        kids.append(kid)
        schemes[kid] = el.get("commonEncryptionScheme")
        secret = el.find(f"{q('Data')}/{q('Secret', PSKC_NS)}")
        if secret is not None and secret.find(q("EncryptedValue", PSKC_NS)) is not None:
            raise CpixError(
                source,
                f"{where} is encrypted (DocumentKey/EncryptedValue); encrypted "
                "content keys are not supported - ask for pskc:PlainValue over HTTPS",
            )
        value = b64_text(secret.find(q("PlainValue", PSKC_NS))) if secret is not None else None
        if value is None:
            if require_keys:
                raise CpixError(source, f"{where} has no key data (Data/Secret/PlainValue)")
            continue
        key = unb64(value, source, f"key of {where}")
        if len(key) != 16:
            raise CpixError(source, f"key of {where} is {len(key)} bytes; AES-128 needs 16")
        iv = None
        if el.get("explicitIV") is not None:
            iv = unb64(el.get("explicitIV", ""), source, f"explicitIV of {where}")
            if len(iv) not in (8, 16):
                raise CpixError(source, f"explicitIV of {where} is {len(iv)} bytes, not 8/16")
        keys[kid] = KeyData(kid=kid, key=key, iv=iv)
    if require_keys and not kids:
        raise CpixError(source, "the document has no ContentKey")
    return kids, keys, schemes


def _parse_drm(
    root: etree._Element, source: str, known: Collection[bytes], uris: Mapping[tuple, str]
) -> dict[bytes, dict[str, DrmSignalling]]:
    drm: dict[bytes, dict[str, DrmSignalling]] = {}
    for el in root.iterfind(f"{q('DRMSystemList')}/{q('DRMSystem')}"):
        kid = uuid.UUID(el.get("kid")).bytes
        system_id = str(uuid.UUID(el.get("systemId")))
        where = f"DRMSystem {system_id} for KID {kid_uuid(kid)} (line {el.sourceline})"
        if kid not in known:
            raise CpixError(source, f"{where} references a KID not in ContentKeyList")
        if system_id in drm.get(kid, {}):
            raise CpixError(source, f"duplicate {where}")
        hls: dict[str, str | None] = {}
        for h in el.iterfind(q("HLSSignalingData")):
            playlist = "master" if h.get("playlist") == "multiVariant" else "media"
            if playlist in hls:
                raise CpixError(source, f"{where} has two HLSSignalingData for {playlist}")
            hls[playlist] = b64_text(h)
        drm.setdefault(kid, {})[system_id] = DrmSignalling(
            system_id=system_id,
            pssh=b64_text(el.find(q("PSSH"))),
            content_protection_data=b64_text(el.find(q("ContentProtectionData"))),
            hls_media=hls.get("media"),
            hls_master=hls.get("master"),
            uri_ext_x_key=uris.get((el.get("kid", "").lower(), el.get("systemId", "").lower())),
        )
    return drm


def _parse_rules(root: etree._Element, source: str, known: Collection[bytes]) -> list[UsageRule]:
    rules: list[UsageRule] = []
    owner: dict[str, bytes] = {}
    for el in root.iterfind(f"{q('ContentKeyUsageRuleList')}/{q('ContentKeyUsageRule')}"):
        kid = uuid.UUID(el.get("kid")).bytes
        label = el.get("intendedTrackType")
        where = f"ContentKeyUsageRule {label + ' ' if label else ''}(line {el.sourceline})"
        if kid not in known:
            raise CpixError(source, f"{where} references unknown KID {kid_uuid(kid)}")
        if label and owner.setdefault(label, kid) != kid:
            raise CpixError(source, f"label {label!r} is used for two different KIDs ({where})")
        video = tuple(
            VideoFilter(
                min_pixels=_int(v, "minPixels"),
                max_pixels=_int(v, "maxPixels"),
                hdr=(v.get("hdr") in ("true", "1")) if v.get("hdr") is not None else None,
                min_fps=_int(v, "minFps"),
                max_fps=_int(v, "maxFps"),
            )
            for v in el.iterfind(q("VideoFilter"))
        )
        audio = tuple(
            AudioFilter(min_channels=_int(a, "minChannels"), max_channels=_int(a, "maxChannels"))
            for a in el.iterfind(q("AudioFilter"))
        )
        rules.append(UsageRule(kid, label, video, audio))
    return rules


def _parse(data: bytes, source: str, *, require_keys: bool, strict: bool) -> CpixDocument:
    try:
        root = parse_xml(data, source)
    except XmlSafetyError as exc:
        raise CpixError(source, exc.cause) from None
    qname = etree.QName(root)
    if qname.namespace != CPIX_NS or qname.localname != "CPIX":
        found = f"<{qname.localname}> in namespace {qname.namespace or '(none)'!r}"
        raise CpixError(source, f"root element is {found}; expected <CPIX> in {CPIX_NS!r}")
    uris = {} if strict else normalize_legacy(root, source)
    validate(root, source)
    if root.find(q("DeliveryDataList")) is not None:
        raise CpixError(
            source,
            "the document uses DeliveryDataList/DocumentKey (encrypted content keys); "
            "that is not supported - ask for pskc:PlainValue keys over HTTPS",
        )
    kids, keys, schemes = _parse_keys(root, source, require_keys)
    drm = _parse_drm(root, source, schemes, uris)
    rules = _parse_rules(root, source, schemes)
    return CpixDocument(
        content_id=root.get("contentId"),
        version=root.get("version"),
        kids=tuple(kids),
        keys=keys,
        schemes=schemes,
        drm=drm,
        usage_rules=tuple(rules),
        source=source,
    )


def parse_response(
    data: bytes, *, source: str = "CPIX response", strict: bool = False
) -> CpixDocument:
    """Parse a key provider's answer; every ContentKey must carry a 16-byte plain key.

    `strict=True` validates the bytes exactly as received, without aligning the SPEKE v2.0
    deviations (playlist="master", DRMSystem child order, cpix:URIExtXKey).
    """
    return _parse(data, source, require_keys=True, strict=strict)


def parse_request(
    data: bytes, *, source: str = "CPIX request", strict: bool = False
) -> CpixDocument:
    """Parse a key request (ContentKeys without key data), e.g. in our own key server."""
    return _parse(data, source, require_keys=False, strict=strict)
