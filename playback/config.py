"""Playback settings: which CDN origin signs a session's URLs, and the secrets and lifetimes.

Read once per process from a YAML file (`VOD_PLAYBACK_CONFIG`) or, for the one-origin case,
from the VOD_* settings. Secrets are `SecretStr` so they never appear in a repr or a log.

    # playback.yaml
    session_secret: "..."            # signs licence/heartbeat credentials (all API workers)
    redis_url: redis://127.0.0.1:6379/2
    key_store: /var/lib/vod/keys.sqlite
    origins:
      - name: cdn-eu-west            # a CDN region from activation (subscriber.steps.COVERAGE)
        kind: akamai                 # HMAC token st/exp/acl/hmac (vod serve --gateway)
        base_url: https://eu.cdn.example
        token_secret: "..."
      - name: cdn-us-east
        kind: cloudfront             # CloudFront signed URL + cookies (botocore CloudFrontSigner)
        base_url: https://d111.cloudfront.net
        key_pair_id: K2JCJMDEHXQW5F
        private_key_file: /etc/vod/cloudfront.pem
      - name: default                # any region without an origin of its own
        ...

Environment (no file), read through `core.settings`: VOD_ORIGIN_URL (http://127.0.0.1:8000),
VOD_TOKEN_SECRET (required for playback), VOD_SESSION_SECRET, VOD_PLAYBACK_REDIS_URL (default:
VOD_REDIS_URL, database +2), VOD_KEY_STORE, VOD_SESSION_LIFETIME, VOD_HEARTBEAT_TTL,
VOD_REDIS_PREFIX, VOD_PUBLIC_API_URL.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from core.errors import ConfigError
from core.settings import DEFAULT_REDIS_URL as _BASE_REDIS_URL
from core.settings import Settings, redis_db, settings

DEFAULT_REDIS_URL = redis_db(_BASE_REDIS_URL, 2)  # what VOD_REDIS_URL's default derives
DEFAULT_REDIS_PREFIX = "vod:"

__all__ = ["CdnOrigin", "ConfigError", "PlaybackConfig", "redis_location"]


def redis_location(env: Settings | None = None) -> tuple[str, str]:
    """(Redis URL, key prefix) for playback and QoE from the settings, with the defaults."""
    s = env or settings()
    return s.playback_redis, s.redis_prefix or DEFAULT_REDIS_PREFIX


class CdnOrigin(BaseModel):
    """One CDN in front of the origin, and how URLs for it are signed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["akamai", "cloudfront"] = "akamai"
    base_url: str = Field(pattern=r"^https?://[^\s?#]+$")
    token_secret: SecretStr | None = None  # akamai
    token_style: Literal["path", "query"] = "path"
    key_pair_id: str | None = None  # cloudfront
    private_key_file: Path | None = None

    @model_validator(mode="after")
    def _signing_material(self) -> CdnOrigin:
        if self.kind == "akamai" and not (
            self.token_secret and self.token_secret.get_secret_value()
        ):
            raise ValueError(f"origin {self.name!r}: an akamai origin needs token_secret")
        if self.kind == "cloudfront" and not (self.key_pair_id and self.private_key_file):
            raise ValueError(
                f"origin {self.name!r}: a cloudfront origin needs key_pair_id and private_key_file"
            )
        return self

    @cached_property
    def private_key_pem(self) -> bytes:
        assert self.private_key_file is not None
        try:
            return self.private_key_file.read_bytes()
        except OSError as e:
            cause = f"origin {self.name!r}: cannot read private_key_file: {e}"
            raise ConfigError(str(self.private_key_file), cause) from e


class PlaybackConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    origins: list[CdnOrigin] = Field(min_length=1)
    session_secret: SecretStr
    session_lifetime: int = Field(default=4 * 3600, ge=30, le=7 * 24 * 3600)
    heartbeat_ttl: int = Field(default=60, ge=1, le=3600)  # a silent stream frees its slot
    redis_url: str = DEFAULT_REDIS_URL
    redis_prefix: str = Field(default=DEFAULT_REDIS_PREFIX, pattern=r"^[A-Za-z0-9:_.-]{1,40}$")
    key_store: Path | None = None
    public_api_url: str | None = None  # licence/heartbeat URLs; default: the request's base

    @property
    def heartbeat_every(self) -> int:
        """How often players should heartbeat: three chances before the slot lapses."""
        return max(1, self.heartbeat_ttl // 3)

    def origin_for(self, cdn_region: str | None) -> CdnOrigin:
        """The origin named after the subscriber's CDN region, else `default`, else the first."""
        by_name = {o.name: o for o in self.origins}
        return by_name.get(cdn_region or "") or by_name.get("default") or self.origins[0]

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> PlaybackConfig:
        """From `VOD_PLAYBACK_CONFIG` (YAML) when set, else from the environment (`env`, or
        this process's); ConfigError names the setting or file that is wrong."""
        s = settings(env)
        if s.playback_config:
            return cls.from_file(s.playback_config)
        return cls.from_settings(s)

    @classmethod
    def from_file(cls, path: Path) -> PlaybackConfig:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(str(path), f"playback configuration: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(str(path), "playback configuration: expected a mapping at the top")
        return cls._validated(data, str(path))

    @classmethod
    def from_settings(cls, s: Settings) -> PlaybackConfig:
        """The one-origin configuration from VOD_* settings (no playback.yaml)."""
        if s.token_secret is None or not s.token_secret.get_secret_value():
            raise ConfigError(
                "VOD_TOKEN_SECRET",
                "playback configuration: set VOD_TOKEN_SECRET (the secret `vod serve "
                "--gateway` checks) or VOD_PLAYBACK_CONFIG to a playback.yaml",
            )
        session_secret = s.session_secret.get_secret_value() if s.session_secret else ""
        redis_url, prefix = redis_location(s)
        values: dict[str, Any] = {
            "origins": [
                {
                    "name": "default",
                    "kind": "akamai",
                    "base_url": s.origin_url,
                    "token_secret": s.token_secret,
                }
            ],
            # One process may invent its own; several API workers must share one.
            "session_secret": session_secret or secrets.token_hex(32),
            "redis_url": redis_url,
            "redis_prefix": prefix,
        }
        optional = {
            "session_lifetime": s.session_lifetime,
            "heartbeat_ttl": s.heartbeat_ttl,
            "key_store": s.key_store,
            "public_api_url": s.public_api_url,
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        return cls._validated(values, "VOD_*")

    @classmethod
    def _validated(cls, values: dict[str, Any], where: str) -> PlaybackConfig:
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            raise ConfigError(where, f"playback configuration: {_first_problem(e)}") from None


def _first_problem(e: ValidationError) -> str:
    """One line naming the field: `origins.0: origin 'eu': ... needs token_secret`."""
    first = e.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    msg = str(first.get("msg", "")).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg
