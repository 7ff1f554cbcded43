"""DRM options as plain data, and the one place that turns them into a `Protection`.

`DrmOptions` says which systems and scheme to use and WHERE the keys come from (a key store
path, a key server URL); it never holds a content key, so it can ride in a Celery message and
sit in the job record. The keys are fetched by `protection_for`, in the process that encrypts:
`vod ingest` in-process, or the worker's package step.

Key sources, first match wins:

1. operator keys (`--key LABEL:KID:KEY`), only in-process: `vod ingest` hands them straight to
   the packager. `vod submit` refuses them, because a job message must not carry keys; put the
   keys in the key store the workers share, or serve them from a key server;
2. a CPIX / SPEKE v2 key server (`key_server`); its bearer token is the caller's
   `--key-server-token`, else VOD_KEY_SERVER_TOKEN of the encrypting process;
3. the local key store (`key_store`, else VOD_KEY_STORE or the per-user default), which makes
   one random key per title and label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from core.settings import settings

if TYPE_CHECKING:
    from drm.encryption.protect import Protection
    from drm.keys import ContentKey, KeyProvider

Scheme = Literal["cenc", "cbcs", "both"]
DEFAULT_SCHEME: Scheme = "cbcs"  # one set of segments serves HLS (FairPlay) and DASH
DEFAULT_SYSTEMS = "clearkey"


class DrmOptions(BaseModel):
    """Which DRM systems and scheme, and where the keys are; the keys themselves never."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    systems: str = DEFAULT_SYSTEMS  # "clearkey", "widevine,playready,fairplay", "all", ...
    scheme: Scheme = DEFAULT_SCHEME
    key_store: str | None = None  # local key store path, as the encrypting process sees it
    key_server: str | None = None  # CPIX / SPEKE URL
    license_url: str | None = None  # ClearKey licence URL written into the manifests

    @field_validator("systems")
    @classmethod
    def _known_systems(cls, value: str) -> str:
        """Refused when the job is described, not when its package step runs."""
        from drm.encryption.protect import parse_systems

        parse_systems(value)  # raises DrmError naming the unknown system
        return value

    @property
    def system_list(self) -> list[str]:
        from drm.encryption.protect import parse_systems

        return parse_systems(self.systems)


def key_provider(
    options: DrmOptions, *, keys: Sequence[ContentKey] = (), token: str | None = None
) -> KeyProvider:
    """Where this title's content keys come from (see the module docstring for the order)."""
    if keys:
        from drm.keys import StaticKeyProvider

        return StaticKeyProvider(keys)
    if options.key_server:
        from drm.keyexchange.speke import SpekeClient

        return SpekeClient(
            options.key_server,
            token=token if token is not None else _settings_token(),
            scheme="cenc" if options.scheme == "cenc" else "cbcs",
            systems=[s for s in options.system_list if s != "fairplay"],
        )
    from drm.keystore import LocalKeyStore, default_store_path

    return LocalKeyStore(options.key_store or default_store_path())


def protection_for(
    options: DrmOptions, *, keys: Sequence[ContentKey] = (), token: str | None = None
) -> Protection:
    """The `Protection` (systems, scheme, key source, licence URL) that `options` describe."""
    from drm.encryption.protect import Protection

    return Protection(
        systems=options.system_list,
        scheme=options.scheme,
        provider=key_provider(options, keys=keys, token=token),
        license_url=options.license_url,
    )


def _settings_token() -> str | None:
    secret = settings().key_server_token
    return secret.get_secret_value() if secret is not None else None
