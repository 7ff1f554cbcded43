"""Protection system IDs (DASH-IF registry): one place, so a typo cannot hide in a manifest."""

from __future__ import annotations

import uuid

__all__ = [
    "WIDEVINE_UUID",
    "PLAYREADY_UUID",
    "COMMON_UUID",
    "FAIRPLAY_UUID",
    "CLEARKEY_DASH_UUID",
    "WIDEVINE_ID",
    "PLAYREADY_ID",
    "COMMON_ID",
    "FAIRPLAY_ID",
    "CLEARKEY_DASH_ID",
    "MP4PROTECTION_SCHEME",
    "SYSTEM_NAMES",
    "system_name",
    "urn",
]

WIDEVINE_UUID = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
PLAYREADY_UUID = "9a04f079-9840-4286-ab92-e65be0885f95"
COMMON_UUID = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"  # W3C Common PSSH, used by ClearKey
FAIRPLAY_UUID = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"  # DASH signalling by some packagers
CLEARKEY_DASH_UUID = "e2719d58-a985-b3c9-781a-b030af78d30e"  # DASH-IF MPD scheme, "ClearKey1.0"

WIDEVINE_ID = uuid.UUID(WIDEVINE_UUID).bytes
PLAYREADY_ID = uuid.UUID(PLAYREADY_UUID).bytes
COMMON_ID = uuid.UUID(COMMON_UUID).bytes
FAIRPLAY_ID = uuid.UUID(FAIRPLAY_UUID).bytes
CLEARKEY_DASH_ID = uuid.UUID(CLEARKEY_DASH_UUID).bytes

MP4PROTECTION_SCHEME = "urn:mpeg:dash:mp4protection:2011"

SYSTEM_NAMES: dict[bytes, str] = {
    WIDEVINE_ID: "Widevine",
    PLAYREADY_ID: "PlayReady",
    COMMON_ID: "W3C Common",
    FAIRPLAY_ID: "FairPlay",
    CLEARKEY_DASH_ID: "ClearKey (DASH-IF)",
}


def system_name(system_id: bytes) -> str:
    """Human name of a system ID, or its UUID when we do not know it."""
    return SYSTEM_NAMES.get(bytes(system_id), str(uuid.UUID(bytes=bytes(system_id))))


def urn(system_uuid: str) -> str:
    """The DASH schemeIdUri of a system: 'urn:uuid:' + lower-case UUID."""
    return f"urn:uuid:{system_uuid.lower()}"
