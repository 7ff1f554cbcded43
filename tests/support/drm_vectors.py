"""Known-answer vectors for the DRM signalling tests, from outside our code.

Shaka Packager's pssh_generator_unittest.cc vectors (KID "keyid1~~~~~~~~~~", key
"contentkey1~~~~~"), the W3C web-platform-tests EME content (a castlabs-made Widevine +
PlayReady initData with its KID and key), `uuid.bytes_le` for the GUID swap and
`cryptography` AES-ECB for the PlayReady checksum.
"""

from __future__ import annotations

import struct
import uuid

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KID1 = b"keyid1~~~~~~~~~~"
KID2 = b"keyid2~~~~~~~~~~"
KEY1 = b"contentkey1~~~~~"
WV_UUID = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
PR_UUID = "9a04f079-9840-4286-ab92-e65be0885f95"
COMMON_UUID = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"

# W3C web-platform-tests, encrypted-media/content/content-metadata.js, 'mp4-basic'.
WPT_KID = bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64")
WPT_KEY = bytes.fromhex("be7df8a3667a6a8fd564d0ed81339a95")
WPT_INIT_DATA = (
    "AAAAcXBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAFEIARIQrRP56ivmmLh19QSo48zqZBoIY2FzdGxhYnMiKGV5"
    "SmhjM05sZEVsa0lqb2laVzFsTFhSbGMzUXRjMmx1WjJ4bEluMD0yB2RlZmF1bHQAAAMacHNzaAAAAACaBPB5mEBC"
    "hquS5lvgiF+VAAAC+voCAAABAAEA8AI8AFcAUgBNAEgARQBBAEQARQBSACAAeABtAGwAbgBzAD0AIgBoAHQAdABw"
    "ADoALwAvAHMAYwBoAGUAbQBhAHMALgBtAGkAYwByAG8AcwBvAGYAdAAuAGMAbwBtAC8ARABSAE0ALwAyADAAMAA3"
    "AC8AMAAzAC8AUABsAGEAeQBSAGUAYQBkAHkASABlAGEAZABlAHIAIgAgAHYAZQByAHMAaQBvAG4APQAiADQALgAw"
    "AC4AMAAuADAAIgA+ADwARABBAFQAQQA+ADwAUABSAE8AVABFAEMAVABJAE4ARgBPAD4APABLAEUAWQBMAEUATgA+"
    "ADEANgA8AC8ASwBFAFkATABFAE4APgA8AEEATABHAEkARAA+AEEARQBTAEMAVABSADwALwBBAEwARwBJAEQAPgA8"
    "AC8AUABSAE8AVABFAEMAVABJAE4ARgBPAD4APABLAEkARAA+ADYAdgBrAFQAcgBlAFkAcgB1AEoAaAAxADkAUQBT"
    "AG8ANAA4AHoAcQBaAEEAPQA9ADwALwBLAEkARAA+ADwAQwBIAEUAQwBLAFMAVQBNAD4AagBZAEYATgBmADAAeQBm"
    "ADQAaQBzAD0APAAvAEMASABFAEMASwBTAFUATQA+ADwATABBAF8AVQBSAEwAPgBoAHQAdABwADoALwAvAHAAbABh"
    "AHkAcgBlAGEAZAB5AC4AZABpAHIAZQBjAHQAdABhAHAAcwAuAG4AZQB0AC8AcAByAC8AcwB2AGMALwByAGkAZwBo"
    "AHQAcwBtAGEAbgBhAGcAZQByAC4AYQBzAG0AeAA/AFAAbABhAHkAUgBpAGcAaAB0AD0AMQAmAGEAbQBwADsAVQBz"
    "AGUAUwBpAG0AcABsAGUATgBvAG4AUABlAHIAcwBpAHMAdABlAG4AdABMAGkAYwBlAG4AcwBlAD0AMQA8AC8ATABB"
    "AF8AVQBSAEwAPgA8AC8ARABBAFQAQQA+ADwALwBXAFIATQBIAEUAQQBEAEUAUgA+AA=="
)


def expected_checksum(kid: bytes, key: bytes) -> bytes:
    """Independent: uuid's little-endian GUID bytes, AES-128-ECB from `cryptography`."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (enc.update(uuid.UUID(bytes=kid).bytes_le) + enc.finalize())[:8]


def hand_pssh(system: str, kids: list[bytes], data: bytes, version: int) -> bytes:
    """A pssh box assembled with struct, not with the box model."""
    body = bytes([version]) + b"\0\0\0" + uuid.UUID(system).bytes
    if version:
        body += struct.pack(">I", len(kids)) + b"".join(kids)
    body += struct.pack(">I", len(data)) + data
    return struct.pack(">I4s", 8 + len(body), b"pssh") + body
