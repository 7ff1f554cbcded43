"""Fixtures of the DRM tests."""

from __future__ import annotations

from functools import cache

import pytest

from drm.encryption.sample import TrackEncryptor
from pipeline.package.packager import package_track
from tests.support.cenc_clips import clip_dir, make_clip
from tests.support.cenc_tracks import KEY, KID, Packaged, Packager


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packager:
    """(kind, scheme) -> the clip packaged clear and encrypted, once per test session."""
    clips = clip_dir(tmp_path_factory)
    root = tmp_path_factory.mktemp("cenc-out")

    @cache
    def make(kind: str, scheme: str) -> Packaged:
        src = make_clip(kind, clips)
        clear = root / kind / "clear"
        if not clear.exists():
            package_track(src, root / kind, "clear")
        enc = TrackEncryptor(scheme, KID, KEY)
        package_track(src, root / kind, scheme, transform=enc, init_transform=enc.init_transform)
        return Packaged(src, clear, root / kind / scheme)

    return make
