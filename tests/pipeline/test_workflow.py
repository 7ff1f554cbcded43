"""The title workflow without encoding: the spec as plain data, the one DRM factory, the
destination check that runs before any work, the one summary, and the one catalogue record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import PipelineError
from pipeline.storage.publish import Destination, Published, check_destination
from pipeline.workflow.protection import DrmOptions, key_provider, protection_for
from pipeline.workflow.result import title_summary
from pipeline.workflow.spec import CatalogueTarget, TitleSpec

KEY = "SD:00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f"


def test_spec_is_plain_json_without_secrets() -> None:
    spec = TitleSpec(
        source="in.mov",
        title_id="t1",
        origin="s3://origin/titles",
        drm=DrmOptions(systems="all", key_server="https://keys.example/cpix"),
        catalogue=CatalogueTarget(database_url="postgresql://u:secret@db/cat"),
    )
    dumped = json.loads(spec.model_dump_json())
    assert dumped["drm"]["scheme"] == "cbcs"  # the one default, as `vod ingest` always had
    assert "catalogue" not in dumped and "secret" not in spec.model_dump_json()
    assert TitleSpec.model_validate(dumped).drm == spec.drm


@pytest.mark.parametrize("title_id", ["../escape", "a/b", ".hidden", ""])
def test_spec_refuses_unsafe_title_ids(title_id: str) -> None:
    with pytest.raises(PipelineError, match="invalid title id"):
        TitleSpec(source="in.mov", title_id=title_id, origin="o")


def test_drm_options_refuse_unknown_systems() -> None:
    with pytest.raises(PipelineError, match="unknown DRM system"):
        DrmOptions(systems="widevine,netflix")


def test_one_factory_picks_the_key_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drm.keyexchange.speke import SpekeClient
    from drm.keys import StaticKeyProvider, parse_key_arg
    from drm.keystore import LocalKeyStore

    store = tmp_path / "keys.sqlite"
    local = DrmOptions(key_store=str(store))
    assert isinstance(key_provider(local), LocalKeyStore) and store.is_file()
    assert isinstance(key_provider(local, keys=[parse_key_arg(KEY)]), StaticKeyProvider)
    monkeypatch.setenv("VOD_KEY_SERVER_TOKEN", "from-env")
    remote = DrmOptions(systems="all", scheme="both", key_server="http://127.0.0.1:1/cpix")
    client = key_provider(remote)
    assert isinstance(client, SpekeClient)
    assert "from-env" in repr(vars(client)) and "fairplay" not in repr(vars(client))
    assert "given" in repr(vars(key_provider(remote, token="given")))
    protection = protection_for(DrmOptions(systems="clearkey", key_store=str(store)))
    assert protection.systems == ["clearkey"] and protection.scheme == "cbcs"


def test_destination_is_checked_without_creating_anything(tmp_path: Path) -> None:
    later = tmp_path / "not" / "yet"
    where = check_destination(later, "t1")
    assert where.location == str(later / "t1") and not (tmp_path / "not").exists()
    with pytest.raises(PipelineError, match="invalid title id"):
        check_destination(tmp_path, "../t")
    with pytest.raises(PipelineError, match="as a string"):
        check_destination(Path("s3://bucket/prefix"), "t1")  # Path() collapsed the '//'
    with pytest.raises(PipelineError, match="'..'"):
        check_destination("s3://bucket/../x", "t1")
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(PipelineError, match="not a directory"):
        check_destination(a_file, "t1")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_origin_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(PipelineError, match="not writable"):
            check_destination(locked / "titles", "t1")
    finally:
        locked.chmod(0o700)


def test_one_summary_for_both_drivers() -> None:
    packaged = {"duration": 8.0, "renditions": [{"id": "v360"}], "drm": {"kids": {"SD": "k"}}}
    s3 = Destination("s3://origin/titles", "t1", "origin", "titles", "http://minio:9000")
    summary = title_summary("t1", Published(s3, ("titles/t1/master.m3u8",)), packaged, {"a": 1})
    assert list(summary) == ["title_id", "hls", "dash", "objects", "hls_url", "dash_url",
                             "duration", "renditions", "timings", "drm"]  # fmt: skip
    assert summary["hls"] == "s3://origin/titles/t1/master.m3u8"
    assert summary["dash_url"] == "http://minio:9000/origin/titles/t1/manifest.mpd"
    local = title_summary("t1", Published(Destination("/srv/o", "t1")), packaged, {})
    assert local["hls"] == "/srv/o/t1/master.m3u8" and "objects" not in local


def test_catalogue_records_once_per_process_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import catalogue.migrations
    from catalogue.record import record_title

    summary = {"title_id": "t1", "hls": "/o/t1/master.m3u8", "dash": "/o/t1/manifest.mpd",
               "renditions": [{"id": "v360", "kind": "video", "height": 360}]}  # fmt: skip
    entry = record_title(summary, database_url=None, folder=tmp_path / "entries")
    assert json.loads(Path(entry).read_text())["title_id"] == "t1"
    calls: list[str] = []
    real = catalogue.migrations.upgrade
    monkeypatch.setattr(catalogue.migrations, "upgrade", lambda url: calls.append(url) or real(url))
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    assert record_title(summary, database_url=url, base_url="https://cdn") == "created"
    assert record_title(summary, database_url=url, base_url="https://cdn") == "unchanged"
    assert len(calls) == 1
