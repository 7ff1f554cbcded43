"""Territory codes, language tags and the local time a zone-less rights date means.

Rights windows are licensed per country, and partners usually write dates without a zone
("2026-03-01" or "2026-03-01T00:00:00"): Avails says such a date is local to the territory.
To compare windows with "now" we store UTC, so each territory needs one IANA zone.

Zone choice for countries spanning several zones: we use the zone of the capital
(US -> America/New_York, CA -> America/Toronto, AU -> Australia/Sydney (Canberra),
BR -> America/Sao_Paulo (Brasilia), RU -> Europe/Moscow, MX -> America/Mexico_City,
ID -> Asia/Jakarta, ES -> Europe/Madrid, PT -> Europe/Lisbon, ...). For the US this is also
the usual digital-release convention (midnight Eastern, 21:00 Pacific). The cost is that a
window opens at the capital's midnight everywhere in the country; partners who need another
instant must send an explicit offset, which is always honoured. Territories missing from
`_ZONES` are still valid codes, but a zone-less date for them is rejected rather than guessed.

Region codes the entitlement rules understand (`entitlement.REGIONS`, today `WW` = worldwide)
are accepted as territories too; a zone-less date for WW is read as UTC (there is no local
midnight for the whole world, and 00:00Z is the usual "global day-and-date" instant).

Local times that do not exist (inside a DST gap) follow PEP 495 `fold=0`: they are read with
the offset in force before the gap, i.e. they land just after it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from catalogue.entitlement import REGIONS


def _codes(text: str) -> frozenset[str]:
    """A code table written as whitespace-separated text (compact, easy to diff)."""
    return frozenset(text.split())


# ISO 3166-1 alpha-2, officially assigned codes (249; same set as tzdata's iso3166.tab).
_ISO_3166_1 = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """
)

# Territory -> IANA zone for zone-less dates: the sample files' territories and major markets.
_ZONES: dict[str, str] = {
    # Americas (multi-zone countries: capital's zone, see module docstring)
    "US": "America/New_York",
    "CA": "America/Toronto",
    "MX": "America/Mexico_City",
    "BR": "America/Sao_Paulo",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "CO": "America/Bogota",
    "PE": "America/Lima",
    # Europe
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "IT": "Europe/Rome",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg",
    "CH": "Europe/Zurich",
    "AT": "Europe/Vienna",
    "DK": "Europe/Copenhagen",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "FI": "Europe/Helsinki",
    "IS": "Atlantic/Reykjavik",
    "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague",
    "SK": "Europe/Bratislava",
    "HU": "Europe/Budapest",
    "RO": "Europe/Bucharest",
    "BG": "Europe/Sofia",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "SI": "Europe/Ljubljana",
    "RS": "Europe/Belgrade",
    "EE": "Europe/Tallinn",
    "LV": "Europe/Riga",
    "LT": "Europe/Vilnius",
    "TR": "Europe/Istanbul",
    "UA": "Europe/Kyiv",
    "RU": "Europe/Moscow",
    # Middle East and Africa
    "IL": "Asia/Jerusalem",
    "AE": "Asia/Dubai",
    "SA": "Asia/Riyadh",
    "QA": "Asia/Qatar",
    "EG": "Africa/Cairo",
    "MA": "Africa/Casablanca",
    "NG": "Africa/Lagos",
    "KE": "Africa/Nairobi",
    "ZA": "Africa/Johannesburg",
    # Asia-Pacific
    "IN": "Asia/Kolkata",
    "PK": "Asia/Karachi",
    "CN": "Asia/Shanghai",
    "HK": "Asia/Hong_Kong",
    "TW": "Asia/Taipei",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "SG": "Asia/Singapore",
    "MY": "Asia/Kuala_Lumpur",
    "TH": "Asia/Bangkok",
    "ID": "Asia/Jakarta",
    "PH": "Asia/Manila",
    "VN": "Asia/Ho_Chi_Minh",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
    # regions (see module docstring)
    "WW": "Etc/UTC",
}

ZONED_TERRITORIES: tuple[str, ...] = tuple(sorted(_ZONES))


class NoZoneForTerritory(ValueError):
    """A zone-less date for a territory we hold no zone for: refuse rather than guess."""


def normalise_territory(code: str) -> str:
    """Upper-cased, stripped form of a territory code (validity is checked separately)."""
    return code.strip().upper()


def is_country(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code (case-insensitive)."""
    return normalise_territory(code) in _ISO_3166_1


def is_territory(code: str) -> bool:
    """A country code, or a region code the entitlement rules understand (WW)."""
    return is_country(code) or normalise_territory(code) in REGIONS


@cache
def zone_for(territory: str) -> ZoneInfo | None:
    """The IANA zone zone-less dates for `territory` are read in, or None if we hold none."""
    name = _ZONES.get(normalise_territory(territory))
    return ZoneInfo(name) if name else None


def _zone_or_raise(territory: str) -> ZoneInfo:
    zone = zone_for(territory)
    if zone is None:
        raise NoZoneForTerritory(
            f"no time zone is known for territory {territory!r}, so a date without an offset "
            "cannot be placed; send it with an explicit offset (e.g. 2026-03-01T00:00:00+01:00)"
        )
    return zone


def local_to_utc(value: datetime, territory: str) -> datetime:
    """UTC instant of `value`: aware values keep their offset, naive ones are territory-local."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    return value.replace(tzinfo=_zone_or_raise(territory)).astimezone(UTC)


def utc_to_local(value: datetime, territory: str) -> datetime:
    """Naive wall-clock time in the territory's zone for an aware instant (the inverse)."""
    if value.tzinfo is None:
        raise ValueError("utc_to_local needs an aware datetime")
    return value.astimezone(_zone_or_raise(territory)).replace(tzinfo=None)


def local_time_exists(value: datetime, territory: str) -> bool:
    """False when naive `value` falls in a DST gap of the territory's zone (clocks jumped)."""
    zone = _zone_or_raise(territory)
    before = value.replace(tzinfo=zone, fold=0).utcoffset()
    after = value.replace(tzinfo=zone, fold=1).utcoffset()
    return not (before is not None and after is not None and before < after)


# --- Language tags (BCP 47), whose region subtag is a territory code ---------------------

# ISO 639-1: where a 2-letter code exists, BCP 47 forbids the 3-letter one ("eng" -> "en").
_ISO_639_1 = _codes(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
    """
)
# Registered 3-letter primary subtags seen in media deliveries (no 2-letter equivalent).
# Not the whole IANA registry: extend when a partner sends a real one we reject.
_ISO_639_3_MEDIA = _codes(
    """
    ast ceb chr cmn fil gsw hak haw hmn kok mai mni mul nan nds sat sco tlh und wuu yue zxx
    """
)
# UN M.49 area codes BCP 47 accepts as regions (es-419 is common in Avails).
_UN_M49 = _codes(
    """
    001 002 003 005 009 011 013 014 015 017 018 019 021 029 030 034 035 039 053 054 057 061
    142 143 145 150 151 154 155 202 419
    """
)

_TAG = re.compile(
    r"""^(?P<lang>[A-Za-z]{2,3})
        (?:-(?P<script>[A-Za-z]{4}))?
        (?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?
        (?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)
        (?P<extensions>(?:-[0-9A-WYZa-wyz](?:-[A-Za-z0-9]{2,8})+)*)
        (?P<private>-[Xx](?:-[A-Za-z0-9]{1,8})+)?$""",
    re.VERBOSE,
)


def language_tag_problem(tag: str) -> str | None:
    """Why `tag` is not a usable BCP 47 language tag, or None when it is fine."""
    match = _TAG.match(tag.strip())
    if not match:
        return "not a BCP 47 language tag (expected e.g. 'en', 'es-419', 'zh-Hant-TW')"
    lang = match["lang"].lower()
    if lang not in _ISO_639_1 and lang not in _ISO_639_3_MEDIA:
        hint = " (use the 2-letter ISO 639-1 code where one exists)" if len(lang) == 3 else ""
        return f"unknown primary language subtag {match['lang']!r}{hint}"
    region = match["region"]
    if region and region.upper() not in _ISO_3166_1 and region not in _UN_M49:
        return f"unknown region subtag {region!r} (not an ISO 3166-1 or UN M.49 code)"
    return None


def normalise_language_tag(tag: str) -> str:
    """Conventional casing: language lower, Script title, REGION upper (en-us -> en-US)."""
    parts = tag.strip().split("-")
    out = [parts[0].lower()]
    for index, part in enumerate(parts[1:], 1):
        if len(part) == 1:  # extensions and private use follow: leave them lower case
            out.extend(p.lower() for p in parts[index:])
            break
        if len(part) == 4 and part.isalpha() and index == 1:
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)
