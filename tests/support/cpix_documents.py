"""CPIX test documents: fixed KIDs and keys per label, and a SPEKE v2.0 key provider's answer
written the way such providers write it (HLSSignalingData first, playlist="master", the
deprecated cpix:URIExtXKey)."""

from __future__ import annotations

import uuid

from drm.keys import ContentKey

NS = {"cpix": "urn:dashif:org:cpix", "pskc": "urn:ietf:params:xml:ns:keyprov:pskc"}
WIDEVINE = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
PLAYREADY = "9a04f079-9840-4286-ab92-e65be0885f95"
FAIRPLAY = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"
COMMON = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"

KIDS = {
    "AUDIO": bytes.fromhex("1fc17c8c2a444c59a5ad3aa35f1ed0a3"),
    "SD": bytes.fromhex("2a6f3e0b7c4d4e2f9a1b2c3d4e5f6071"),
    "HD": bytes.fromhex("9eb4050de44b4802932e27d75083e266"),
    "UHD": bytes.fromhex("c0ffee00c0ffee00c0ffee00c0ffee00"),
}


def uuid_text(kid: bytes) -> str:
    return str(uuid.UUID(bytes=kid))


def labelled_keys() -> dict[str, ContentKey]:
    return {
        label: ContentKey(label, kid, bytes([i + 1]) * 16, bytes([0x10 + i]) * 16)
        for i, (label, kid) in enumerate(KIDS.items())
    }


VIDEO_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
AUDIO_KEY = bytes.fromhex("fedcba98765432100123456789abcdef")
VIDEO_KID = "9eb4050d-e44b-4802-932e-27d75083e266"
AUDIO_KID = "1fc17c8c-2a44-4c59-a5ad-3aa35f1ed0a3"
WV_PSSH = "AAAAO3Bzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAABsSEJ60BQ3kS0gCky4n11CD4mYiB21vdmllLTc="
HLS_MEDIA = (
    "I0VYVC1YLUtFWTpNRVRIT0Q9U0FNUExFLUFFUyxVUkk9InNrZDovL21vdmllLTcvOWViNDA1MGQiLEtFWUZPUk1B"
    "VD0iY29tLmFwcGxlLnN0cmVhbWluZ2tleWRlbGl2ZXJ5IixLRVlGT1JNQVRWRVJTSU9OUz0iMSI="
)
HLS_MASTER = (
    "I0VYVC1YLVNFU1NJT04tS0VZOk1FVEhPRD1TQU1QTEUtQUVTLFVSST0ic2tkOi8vbW92aWUtNy85ZWI0MDUwZCIs"
    "S0VZRk9STUFUPSJjb20uYXBwbGUuc3RyZWFtaW5na2V5ZGVsaXZlcnkiLEtFWUZPUk1BVFZFUlNJT05TPSIxIg=="
)

# As a SPEKE v2.0 key provider answers: HLSSignalingData first, playlist="master", and the
# deprecated cpix:URIExtXKey still present for FairPlay.
SPEKE_V2_RESPONSE = f"""<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX contentId="movie-7" version="2.3" xmlns:cpix="urn:dashif:org:cpix"
    xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="{VIDEO_KID}" commonEncryptionScheme="cbcs"
        explicitIV="Dw4NDAsKCQgHBgUEAwIBAA==">
      <cpix:Data>
        <pskc:Secret>
          <pskc:PlainValue>ABEiM0RVZneImaq7zN3u/w==</pskc:PlainValue>
        </pskc:Secret>
      </cpix:Data>
    </cpix:ContentKey>
    <cpix:ContentKey kid="{AUDIO_KID}" commonEncryptionScheme="cbcs">
      <cpix:Data>
        <pskc:Secret>
          <pskc:PlainValue>
            /ty6mHZUMhABI0VniavN7w==
          </pskc:PlainValue>
        </pskc:Secret>
      </cpix:Data>
    </cpix:ContentKey>
  </cpix:ContentKeyList>
  <cpix:DRMSystemList>
    <!-- Widevine -->
    <cpix:DRMSystem kid="{VIDEO_KID}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed">
      <cpix:HLSSignalingData playlist="media">{HLS_MEDIA}</cpix:HLSSignalingData>
      <cpix:HLSSignalingData playlist="master">{HLS_MASTER}</cpix:HLSSignalingData>
      <cpix:ContentProtectionData>PG1zcHI6cHJvPkFBQUE8L21zcHI6cHJvPg==</cpix:ContentProtectionData>
      <cpix:PSSH>{WV_PSSH}</cpix:PSSH>
    </cpix:DRMSystem>
    <!-- FairPlay -->
    <cpix:DRMSystem kid="{VIDEO_KID}" systemId="94CE86FB-07FF-4F43-ADB8-93D2FA968CA2">
      <cpix:HLSSignalingData playlist="media">{HLS_MEDIA}</cpix:HLSSignalingData>
      <cpix:HLSSignalingData playlist="master">{HLS_MASTER}</cpix:HLSSignalingData>
      <cpix:URIExtXKey>c2tkOi8vbW92aWUtNy85ZWI0MDUwZA==</cpix:URIExtXKey>
    </cpix:DRMSystem>
    <cpix:DRMSystem kid="{AUDIO_KID}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed">
      <cpix:PSSH>{WV_PSSH}</cpix:PSSH>
    </cpix:DRMSystem>
  </cpix:DRMSystemList>
  <cpix:ContentKeyUsageRuleList>
    <cpix:ContentKeyUsageRule kid="{VIDEO_KID}" intendedTrackType="SD+HD">
      <cpix:VideoFilter maxPixels="442368"/>
      <cpix:VideoFilter minPixels="442369" maxPixels="2073600"/>
    </cpix:ContentKeyUsageRule>
    <cpix:ContentKeyUsageRule kid="{AUDIO_KID}" intendedTrackType="AUDIO">
      <cpix:AudioFilter maxChannels="2"/>
    </cpix:ContentKeyUsageRule>
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>
""".encode()
