"""The one settings object: every `VOD_*` environment variable is declared here, once.

Workers, `vod submit`, `vod watch` and the API must agree on these, so they all read them from
`settings()`. One Redis URL and one database URL: the Celery result backend, the job-state
store and the playback store are derived from `VOD_REDIS_URL` (databases +0/+1/+2 of the same
server) unless their own variable overrides them. Secrets are `SecretStr` (never in a repr or
a log) and come from the environment or a file, never from argv.

`settings()` reads the environment each call (cheap), so tests can change it; pass a mapping
to read another environment (a worker's, in tests).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "sqlite:///./catalogue.db"
DEFAULT_ORIGIN_URL = "http://127.0.0.1:8000"


def redis_db(url: str, offset: int) -> str:
    """The same Redis server as `url`, database number + offset (redis://h:p/0 -> /offset)."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    base = int(path) if path.isdigit() else 0
    return urlunsplit(parts._replace(path=f"/{base + offset}"))


@functools.cache
def bundled_ffmpeg() -> str:
    """The imageio-ffmpeg wheel's static FFmpeg (has libvmaf), else `ffmpeg` on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return "ffmpeg"


def resolve_ffmpeg(name: str) -> str:
    """A VOD_FFMPEG value -> the program to run: `auto` is `bundled_ffmpeg()`, else `name`."""
    return bundled_ffmpeg() if name == "auto" else name


class Settings(BaseSettings):
    """Every VOD_* variable with its default (the README lists them from here)."""

    model_config = SettingsConfigDict(env_prefix="VOD_", extra="ignore", frozen=True)

    # -- shared services ------------------------------------------------------------------
    redis_url: str = Field(DEFAULT_REDIS_URL, description="Redis for Celery, job state, playback")
    broker_url: str | None = Field(None, description="Celery broker (default: VOD_REDIS_URL)")
    result_backend: str | None = Field(
        None, description="Celery results (default: VOD_REDIS_URL, database +1)"
    )
    state_url: str | None = Field(None, description="Job records (default: the broker)")
    playback_redis_url: str | None = Field(
        None, description="Sessions, stream slots, QoE (default: VOD_REDIS_URL, database +2)"
    )
    redis_prefix: str = Field("vod:", description="Key prefix for playback and QoE in Redis")
    database_url: str | None = Field(
        None, description="Catalogue and subscriber database (SQLAlchemy URL); unset: SQLite "
        "./catalogue.db for commands that need one, no catalogue recording for workers"
    )  # fmt: skip
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS)"
    )

    # -- pipeline and workers ---------------------------------------------------------------
    origin: str | None = Field(None, description="Where `vod watch` publishes titles")
    work_dir: Path = Field(
        Path(tempfile.gettempdir()) / "vod-work", description="Workers' local job folders"
    )
    work_url: str | None = Field(
        None, description="Private S3 work area (s3://bucket/prefix) for clear encoded parts "
        "shared between workers; never in the origin's bucket (refused), nor in a bucket anyone "
        "may read; `none` keeps them in VOD_WORK_DIR (default: s3://<origin bucket>-work when "
        "the origin is on S3 and that bucket exists, else the job is refused)"
    )  # fmt: skip
    keep_work: bool = Field(False, description="Keep a finished job's work folder")
    catalogue_dir: Path | None = Field(
        None, description="Where workers write catalogue entries without a database"
    )
    public_base_url: str = Field("", description="Public URL prefix of the origin for entries")
    queue_prefix: str = Field("", description="Prefix of the encode/io queue names")
    soft_time_limit: float = Field(3600, gt=0, description="Seconds before a task is asked to stop")
    time_limit: float | None = Field(None, description="Hard task limit (default: soft + 300)")
    visibility_timeout: float | None = Field(
        None, description="Broker redelivery of unacknowledged tasks (default: hard + 300)"
    )
    max_retries: int = Field(5, ge=0, description="Retries of a task after a transient error")
    lease_seconds: float = Field(
        60, ge=3, description="A running task's lease, renewed every third of it; a dead "
        "worker's steps are re-queued about this long after it stopped renewing"
    )  # fmt: skip
    ffmpeg: str = Field(
        "auto", description="FFmpeg for every encode, decode and VMAF run: a path or a name on "
        "PATH; `auto`: the imageio-ffmpeg wheel's FFmpeg 9 (libvmaf, threaded filters), else "
        "`ffmpeg` on PATH. Probing always uses `ffprobe` on PATH (the wheel ships none)"
    )  # fmt: skip
    key_store: Path | None = Field(
        None, description="Local content-key store (default ~/.local/share/vod-pipeline/)"
    )
    key_server_token: SecretStr | None = Field(None, description="Bearer token for CPIX/SPEKE")

    # -- subscriber API and playback -----------------------------------------------------------
    playback_config: Path | None = Field(None, description="playback.yaml (CDN origins)")
    token_secret: SecretStr | None = Field(None, description="CDN token secret (gateway + API)")
    session_secret: SecretStr | None = Field(
        None, description="Signs session credentials; share it across API workers"
    )
    origin_url: str = Field(DEFAULT_ORIGIN_URL, description="Origin/CDN base URL for sessions")
    public_api_url: str | None = Field(None, description="Public API URL for licence links")
    session_lifetime: int | None = Field(None, description="Playback session seconds (4 h)")
    heartbeat_ttl: int | None = Field(None, description="Seconds a silent stream keeps its slot")
    api_url: str = Field("http://127.0.0.1:8081", description="API the CLI talks to")
    api_token: SecretStr | None = Field(
        None, description="Bearer token the CLI sends to the API (`vod auth token` mints one)"
    )

    # -- authentication (OAuth 2.0 bearer JWT, RFC 9068) ------------------------------------
    auth_jwks: str | None = Field(
        None, description="JWKS the API verifies tokens with: a file path, or an https URL "
        "of the identity provider (http only on loopback); unset: the API refuses to start"
    )  # fmt: skip
    auth_issuer: str = Field("vod-dev", description="Accepted token issuer (`iss`)")
    auth_audience: str = Field("vod-api", description="Accepted token audience (`aud`)")
    auth_leeway: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/nbf (s)")
    auth_token_types: str = Field(
        "at+jwt,application/at+jwt", description="Accepted JWT `typ` headers (RFC 9068); add "
        "`JWT` for providers that do not label access tokens (Keycloak)"
    )  # fmt: skip
    auth_dir: Path | None = Field(
        None, description="Development issuer's key folder (`vod auth init`; default: the "
        "user config folder, e.g. ~/.config/vod-pipeline/auth)"
    )  # fmt: skip
    faults: str = Field("", description="Simulated subsystem outages (tests, demos)")
    player_libs: Path | None = Field(None, description="npm players for the watch page")

    # -- API limits ---------------------------------------------------------------------------
    max_body_bytes: int = Field(
        1024 * 1024, ge=1, description="Largest request body the API reads (413 beyond)"
    )
    rate_limit_sessions: int = Field(
        30, ge=0, description="Playback sessions a client may open per minute (0: no limit)"
    )
    rate_limit_licenses: int = Field(
        300, ge=0, description="Licence and key requests per client per minute (0: no limit)"
    )

    @field_validator("broker_url", "result_backend", "state_url", "playback_redis_url",
                     "database_url", "s3_endpoint_url", "origin", "work_url", "public_api_url",
                     "key_store", "catalogue_dir", "playback_config", "player_libs",
                     "token_secret", "session_secret", "key_server_token", "time_limit",
                     "api_token", "auth_jwks", "auth_dir",
                     "visibility_timeout", "session_lifetime", "heartbeat_ttl",
                     mode="before")  # fmt: skip
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    # -- derived ----------------------------------------------------------------------------
    @property
    def broker(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def results(self) -> str:
        return self.result_backend or redis_db(self.redis_url, 1)

    @property
    def job_state(self) -> str:
        return self.state_url or self.broker

    @property
    def playback_redis(self) -> str:
        return self.playback_redis_url or redis_db(self.redis_url, 2)

    @property
    def database(self) -> str:
        return self.database_url or DEFAULT_DATABASE_URL

    @property
    def ffmpeg_exe(self) -> str:
        return resolve_ffmpeg(self.ffmpeg)

    @property
    def hard_time_limit(self) -> float:
        return max(self.time_limit or self.soft_time_limit + 300, self.soft_time_limit + 1)

    @property
    def redelivery_timeout(self) -> float:
        return self.visibility_timeout or self.hard_time_limit + 300


def ffmpeg_exe() -> str:
    """The FFmpeg binary every stage runs (`VOD_FFMPEG`)."""
    return settings().ffmpeg_exe


class _MappingSettings(Settings):
    """The same fields read from an explicit mapping (no process environment, no files)."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        **_: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:  # fmt: skip
        return (init_settings,)


def settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings for this process (or for the environment `env`), validated."""
    try:
        if env is None:
            return Settings()
        prefix = "VOD_"
        values = {
            k[len(prefix) :].lower(): v
            for k, v in env.items()
            if k.startswith(prefix) and k[len(prefix) :].lower() in Settings.model_fields
        }
        return _MappingSettings(**values)
    except ValidationError as e:
        first = e.errors()[0]
        name = "VOD_" + str(first["loc"][0]).upper() if first.get("loc") else "VOD_*"
        raise ConfigError(name, f"{first['msg']} (got {first.get('input')!r})") from None


def environ_documented() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the README table."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default in (None, "") else str(default)
        if name == "work_dir":
            shown = "$TMPDIR/vod-work"
        rows.append((f"VOD_{name.upper()}", shown, field.description or ""))
    return rows


__all__ = ["Settings", "settings", "redis_db", "environ_documented"]


def markdown_table() -> str:
    """The README's settings table (`python -m core.settings`)."""
    lines = ["| variable | default | what |", "|---|---|---|"]
    for name, default, what in environ_documented():
        shown = f"`{default}`" if default else ""
        lines.append(f"| `{name}` | {shown} | {what} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
