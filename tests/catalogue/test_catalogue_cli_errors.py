"""`vod catalogue` never prints a traceback: a bad file, an unreachable or unusable database,
a bad playback setting each end in one line naming the file, database or setting, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vod.commands.catalogue import catalogue


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(catalogue, list(args))
    assert "Traceback" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    return result.exit_code, result.output


def test_unreadable_rights_file_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "avails.csv"
    src.write_text("Territory,LicenseType\nGB,SVOD\n")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code, out = run("--database-url", url, "import", str(src))
    assert code == 1
    (line,) = out.strip().splitlines()
    assert line.startswith("error: [rights] ") and str(src) in line
    assert "unrecognised format" in line


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("postgresql://vod:s3cret-pw@127.0.0.1:9/vod", "database error"),
        ("nosuchdriver://x/y", "VOD_DATABASE_URL"),
        ("sqlite:////nonexistent-dir/sub/c.db", "database error"),
    ],
)
def test_database_failures_are_one_line_without_the_password(url: str, phrase: str) -> None:
    code, out = run("--database-url", url, "list", "--territory", "GB")
    assert code == 1
    (line,) = out.strip().splitlines()
    assert line.startswith("error: ") and phrase in line
    assert "s3cret-pw" not in out


def test_bad_playback_setting_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOD_HEARTBEAT_TTL", "soon")
    monkeypatch.setenv("VOD_TOKEN_SECRET", "x")  # secrets from the environment, never argv
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code, out = run("--database-url", url, "serve", "--port", "0")
    assert code == 1
    (line,) = out.strip().splitlines()
    assert line.startswith("error: [config] VOD_HEARTBEAT_TTL: ")
