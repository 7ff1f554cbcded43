"""Playback settings: which CDN origin signs a session's URLs, and the secrets and lifetimes.

Read once per process from a YAML file (`VOD_PLAYBACK_CONFIG`) or, for the one-origin case,
from environment variables. Secrets are `SecretStr` so they never appear in a repr or a log.

    # playback.yaml
    session_secret: "..."            # signs licence/heartbeat credentials (all API workers)
    redis_url: redis://127.0.0.1:6379/2
    key_store: /var/lib/vod/keys.sqlite
    origins:
      - name: cdn-eu-west            # a CDN region from activation (subscriber.steps.COVERAGE)
        kind: akamai                 # HMAC token st/exp/acl/hmac (vod serve --token-secret)
        base_url: https://eu.cdn.example
        token_secret: "..."
      - name: cdn-us-east
        kind: cloudfront             # CloudFront signed URL + cookies (botocore CloudFrontSigner)
        base_url: https://d111.cloudfront.net
        key_pair_id: K2JCJMDEHXQW5F
        private_key_file: /etc/vod/cloudfront.pem
      - name: default                # any region without an origin of its own
        ...

Environment (no file): VOD_ORIGIN_URL (http://127.0.0.1:8000), VOD_TOKEN_SECRET (required
for playback), VOD_SESSION_SECRET, VOD_PLAYBACK_REDIS_URL, VOD_KEY_STORE,
VOD_SESSION_LIFETIME, VOD_HEARTBEAT_TTL, VOD_REDIS_PREFIX.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
DEFAULT_REDIS_PREFIX = "vod:"
DEFAULT_ORIGIN_URL = "http://127.0.0.1:8000"


def redis_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(Redis URL, key prefix) for playback and QoE from the environment, with the defaults."""
    env = os.environ if env is None else env
    return (
        env.get("VOD_PLAYBACK_REDIS_URL") or DEFAULT_REDIS_URL,
        env.get("VOD_REDIS_PREFIX") or DEFAULT_REDIS_PREFIX,
    )


class ConfigError(ValueError):
    """The playback configuration is unusable; the message names the setting."""


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
            raise ConfigError(f"origin {self.name!r}: cannot read private_key_file: {e}") from e


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
        """From `VOD_PLAYBACK_CONFIG` (YAML) when set, else from the environment."""
        env = os.environ if env is None else env
        path = env.get("VOD_PLAYBACK_CONFIG")
        try:
            if path:
                return cls.from_file(Path(path))
            return cls.from_env(env)
        except ValueError as e:
            raise ConfigError(f"playback configuration: {e}") from e

    @classmethod
    def from_file(cls, path: Path) -> PlaybackConfig:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{path}: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        return cls.model_validate(data)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PlaybackConfig:
        secret = env.get("VOD_TOKEN_SECRET")
        if not secret:
            raise ConfigError(
                "set VOD_TOKEN_SECRET (the secret `vod serve --token-secret` checks) or "
                "VOD_PLAYBACK_CONFIG to a playback.yaml"
            )
        values: dict[str, object] = {
            "origins": [
                {
                    "name": "default",
                    "kind": "akamai",
                    "base_url": env.get("VOD_ORIGIN_URL", DEFAULT_ORIGIN_URL),
                    "token_secret": secret,
                }
            ],
            # One process may invent its own; several API workers must share one.
            "session_secret": env.get("VOD_SESSION_SECRET") or secrets.token_hex(32),
        }
        values["redis_url"], values["redis_prefix"] = redis_from_env(env)
        for key, name in (
            ("session_lifetime", "VOD_SESSION_LIFETIME"),
            ("heartbeat_ttl", "VOD_HEARTBEAT_TTL"),
            ("key_store", "VOD_KEY_STORE"),
            ("public_api_url", "VOD_PUBLIC_API_URL"),
        ):
            if env.get(name):
                values[key] = env[name]
        return cls.model_validate(values)
