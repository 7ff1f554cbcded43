"""One settings object: every VOD_* variable declared once, derived URLs, clear errors."""

from __future__ import annotations

import os
import re

import pytest

from core.errors import ConfigError
from core.settings import Settings, environ_documented, redis_db, settings
from tests.support.common import ROOT, run_vod


def test_defaults_keep_todays_redis_databases() -> None:
    s = settings({})
    assert s.broker == "redis://127.0.0.1:6379/0"
    assert s.results == "redis://127.0.0.1:6379/1"
    assert s.playback_redis == "redis://127.0.0.1:6379/2"
    assert s.job_state == s.broker
    assert s.database == "sqlite:///./catalogue.db"


def test_one_redis_url_moves_every_derived_store() -> None:
    s = settings({"VOD_REDIS_URL": "redis://cache.internal:6380/4"})
    assert (s.broker, s.results, s.playback_redis) == (
        "redis://cache.internal:6380/4",
        "redis://cache.internal:6380/5",
        "redis://cache.internal:6380/6",
    )


def test_explicit_overrides_win_over_derivation() -> None:
    s = settings({"VOD_REDIS_URL": "redis://a/0", "VOD_RESULT_BACKEND": "redis://b/9",
                  "VOD_STATE_URL": "redis://c/3", "VOD_PLAYBACK_REDIS_URL": ""})  # fmt: skip
    assert s.results == "redis://b/9"
    assert s.job_state == "redis://c/3"
    assert s.playback_redis == "redis://a/2"  # blank means unset


def test_time_limits_follow_the_soft_limit() -> None:
    s = settings({"VOD_SOFT_TIME_LIMIT": "100"})
    assert (s.hard_time_limit, s.redelivery_timeout) == (400, 700)
    s = settings({"VOD_SOFT_TIME_LIMIT": "100", "VOD_TIME_LIMIT": "50"})
    assert s.hard_time_limit == 101  # never below the soft limit


def test_process_environment_is_read_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOD_QUEUE_PREFIX", "t1-")
    assert settings().queue_prefix == "t1-"
    monkeypatch.setenv("VOD_QUEUE_PREFIX", "t2-")
    assert settings().queue_prefix == "t2-"


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        settings({"VOD_MAX_RETRIES": "many"})
    assert str(info.value).startswith("[config] VOD_MAX_RETRIES: ")
    assert "'many'" in str(info.value)


def test_secrets_never_show_in_a_repr() -> None:
    s = settings({"VOD_TOKEN_SECRET": "s3cr3t-value", "VOD_KEY_SERVER_TOKEN": "tok-value"})
    assert "s3cr3t-value" not in repr(s) and "tok-value" not in repr(s)
    assert s.token_secret is not None and s.token_secret.get_secret_value() == "s3cr3t-value"


def test_redis_db_offsets_the_database_number() -> None:
    assert redis_db("redis://:pw@h:1/7", 2) == "redis://:pw@h:1/9"
    assert redis_db("redis://h", 1) == "redis://h/1"


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(VOD_\w+)` \| `?([^|`]*)`? \|",
                                                         readme, re.M)}  # fmt: skip
    for name, default, _ in environ_documented():
        assert name in rows, f"README has no row for {name}"
        assert rows[name].strip() == default, f"README default of {name}"
    assert set(rows) == {name for name, _, _ in environ_documented()}
    assert len(Settings.model_fields) == len(rows)


def test_a_bad_setting_stops_any_command_with_one_line() -> None:
    env = {**os.environ, "VOD_MAX_RETRIES": "lots"}
    proc = run_vod("jobs", env=env, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: [config] VOD_MAX_RETRIES: Input should be a valid integer, unable to parse "
        "string as an integer (got 'lots')"
    ]
