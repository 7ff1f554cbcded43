"""`vod watch`: the ingest bucket on a real moto_server, jobs on a real Redis.

The end-to-end title goes through the real `vod watch --once` command and a real worker
process; the other tests run the watcher in-process (eager Celery or a counting submit).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import ROOT, MediaFactory
from tests.support.player_harness import PlayerSession
from tests.support.s3_server import s3_env
from tests.support.workers import WorkerPool

TITLE = "watched-short"


def _names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"ingest-{tag}", f"origin-{tag}"


def _keys(client: Any, bucket: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _body(client: Any, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def _watch_cli(env: dict, url: str, origin: str) -> list[str]:
    argv = [sys.executable, "-m", "vod.cli", "watch", url, "--origin", origin, "--once"]
    argv += ["--min-age", "0"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def published(
    vod_env: dict,
    s3_endpoint: str,
    media_factory: MediaFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict]:
    """A source + sidecar dropped in the ingest bucket, turned into a title on the origin by
    `vod watch --once` and a real worker process; a second scan archives the source."""
    from pipeline.storage.s3 import ensure_bucket, s3_client
    from workers.jobs import get_job

    ingest, origin = _names()
    client = s3_client(s3_endpoint)
    ensure_bucket(ingest, client=client)
    ensure_bucket(origin, public_read=True, client=client)
    ensure_bucket(f"{origin}-work", cors=False, client=client)  # the default private work area
    source = media_factory("short")
    client.upload_file(str(source), ingest, "drop/short.mp4")
    sidecar = {"title_id": TITLE, "device_classes": ["mobile"]}
    client.put_object(Bucket=ingest, Key="drop/short.json", Body=json.dumps(sidecar).encode())
    env = {**s3_env(s3_endpoint), **vod_env}
    pool = WorkerPool(vod_env, tmp_path_factory.mktemp("watch-workers"))
    try:
        pool.start("w1")
        first = _watch_cli(env, f"s3://{ingest}/drop", f"s3://{origin}/titles")
        assert len(first) == 1 and first[0].startswith("submitted "), first
        job_id = first[0].split("job=")[1].split()[0]
        deadline = time.monotonic() + 120
        while (job := get_job(job_id)) is None or job.state not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job.state == "done", (job.error, pool.log("w1"))
        second = _watch_cli(env, f"s3://{ingest}/drop", f"s3://{origin}/titles")
    finally:
        pool.stop_all()
    yield {
        "ingest": ingest,
        "origin": origin,
        "client": client,
        "source": source,
        "job_id": job_id,
        "lines": first + second,
        "endpoint": s3_endpoint,
    }


@pytest.mark.slow
def test_dropped_file_becomes_a_title_and_is_archived(published: dict) -> None:
    from pipeline.storage.s3 import public_url
    from pipeline.validate.title import validate
    from workers.watch import pending_key

    client, ingest, origin = published["client"], published["ingest"], published["origin"]
    lines = published["lines"]
    assert lines[1].startswith("archived s3://") and "archive/short.mp4" in lines[1], lines
    url = public_url(published["endpoint"], origin, f"titles/{TITLE}/master.m3u8")
    report = validate(url)
    assert report.ok, report
    # The source moved with every byte; its sidecar went along; no claim object is left.
    assert _keys(client, ingest) == ["drop/archive/short.json", "drop/archive/short.mp4"]
    assert _body(client, ingest, "drop/archive/short.mp4") == published["source"].read_bytes()
    from workers.jobs import client as redis_client

    assert not redis_client().hexists(pending_key(ingest), published["job_id"])
    # The encoded parts went through the private work bucket, which the finished job emptied;
    # the public origin only ever held the published title.
    assert _keys(client, f"{origin}-work") == []
    assert all(k.startswith(f"titles/{TITLE}/") for k in _keys(client, origin))


@pytest.mark.slow
@pytest.mark.browser
def test_shaka_plays_the_watched_title_from_s3(
    published: dict,
    browser: PlayerSession,
) -> None:
    from pipeline.storage.s3 import public_url

    url = public_url(published["endpoint"], published["origin"], f"titles/{TITLE}/master.m3u8")
    result = browser.play(url, "shaka", min_time=2.0)
    assert result.ok, result.describe()


def _watcher(bucket_url: str, origin: str = "s3://nowhere-origin/titles", **kw: Any) -> Any:
    from workers.watch import Watcher

    kw.setdefault("echo", lambda line: None)
    return Watcher(bucket_url, origin, min_age=0, device_classes=["mobile"], **kw)


@pytest.mark.slow
def test_corrupt_file_is_quarantined_with_its_reason(
    workers: WorkerPool,
    s3_endpoint: str,
    media_factory: MediaFactory,
) -> None:
    from pipeline.storage.s3 import ensure_bucket, s3_client
    from workers.jobs import get_job

    ingest, origin = _names()
    client = s3_client(s3_endpoint)
    ensure_bucket(ingest, client=client)
    ensure_bucket(origin, client=client)
    ensure_bucket(f"{origin}-work", cors=False, client=client)
    bad = media_factory("truncated")
    client.upload_file(str(bad), ingest, "bad.mp4")
    workers.start("judge")
    watcher = _watcher(f"s3://{ingest}", f"s3://{origin}/titles")
    first = watcher.scan()
    assert [e.kind for e in first] == ["submitted"], first
    deadline = time.monotonic() + 60
    while (job := get_job(first[0].job_id)) is None or job.state not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert "bad.mp4" in _keys(client, ingest)  # nothing moved before the job ended
    second = watcher.scan()
    assert [e.kind for e in second] == ["quarantined"], second
    assert _keys(client, ingest) == ["quarantine/bad.mp4", "quarantine/bad.mp4.error.json"]
    assert _body(client, ingest, "quarantine/bad.mp4") == bad.read_bytes()  # every byte kept
    record = json.loads(_body(client, ingest, "quarantine/bad.mp4.error.json"))
    assert record["stage"] == "probe"
    # The worker's own one-line error, naming the object (the watcher would prepend the URL to
    # a cause that lacks it, so the URL alone proves nothing): byte counts vary with the encode.
    size = bad.stat().st_size
    exact = (
        re.escape(f"[probe] s3://{ingest}/bad.mp4: file is truncated: ")
        + r"'mdat' box at byte \d+ declares \d+ bytes but only \d+ remain "
        + rf"\({size} of \d+ bytes present\)"
    )
    assert record["cause"] == job.error and re.fullmatch(exact, job.error), job.error
    assert job.stages["probe"].error == job.error and "Unpickleable" not in workers.log("judge")
    assert record["job_id"] == first[0].job_id and record["time"].endswith("Z")
    assert watcher.pending() == {}
    assert _keys(client, origin) == []  # nothing published
    assert watcher.scan() == []  # quarantine/ is never picked up again


def test_hostile_keys_are_reported_never_processed(
    s3_endpoint: str,
    vod_env: dict,
) -> None:
    from pipeline.storage.s3 import ensure_bucket, s3_client

    ingest, _ = _names()
    client = s3_client(s3_endpoint)
    ensure_bucket(ingest, client=client)
    hostile = [
        "../x.mov",
        "a/../../etc/passwd.mov",
        "bell\x07.mov",
        "/abs.mov",
        "a//b.mov",
        "a/./b.mov",
    ]
    for key in hostile:
        client.put_object(Bucket=ingest, Key=key, Body=b"not media")
    submitted: list[Any] = []
    lines: list[str] = []
    watcher = _watcher(f"s3://{ingest}", submit=submitted.append, echo=lines.append)
    events = watcher.scan()
    assert submitted == []
    assert sorted(e.kind for e in events) == ["rejected"] * len(hostile)
    reasons = {e.url: e.detail for e in events}
    assert "'.' or '..' segments" in reasons[f"s3://{ingest}/../x.mov"]
    assert "control characters" in reasons[f"s3://{ingest}/bell\x07.mov"]
    assert all(line.isprintable() for line in lines)  # escaped, one line per event
    assert _keys(client, ingest) == sorted(hostile)  # nothing moved, claimed or written
    assert watcher.scan() == []  # each is reported once


def test_invalid_sidecar_quarantines_before_any_job(
    s3_endpoint: str,
    vod_env: dict,
) -> None:
    from pipeline.storage.s3 import ensure_bucket, s3_client

    ingest, _ = _names()
    client = s3_client(s3_endpoint)
    ensure_bucket(ingest, client=client)
    client.put_object(Bucket=ingest, Key="film.mov", Body=b"media bytes")
    client.put_object(Bucket=ingest, Key="film.json", Body=b'{"title_id": "ok", "colour": 1}')
    client.put_object(Bucket=ingest, Key="good.mov", Body=b"more bytes")
    rights = {"title_id": "../evil", "rights": []}
    client.put_object(Bucket=ingest, Key="good.json", Body=json.dumps(rights).encode())
    client.put_object(Bucket=ingest, Key="dates.mov", Body=b"x")
    bad_window = {"rights": [{"territory": "GB", "license_type": "SVOD", "start": "soon"}]}
    client.put_object(Bucket=ingest, Key="dates.json", Body=json.dumps(bad_window).encode())
    submitted: list[Any] = []
    events = _watcher(f"s3://{ingest}", submit=submitted.append).scan()
    assert submitted == [] and [e.kind for e in events] == ["quarantined"] * 3
    keys = _keys(client, ingest)
    assert keys == sorted(
        f"quarantine/{name}{ext}"
        for name in ("film", "good", "dates")
        for ext in (".mov", ".json", ".mov.error.json")
    )
    film = json.loads(_body(client, ingest, "quarantine/film.mov.error.json"))
    assert film["stage"] == "sidecar" and "colour" in film["cause"]
    assert "film.json" in film["cause"] and film["job_id"] is None
    good = json.loads(_body(client, ingest, "quarantine/good.mov.error.json"))
    assert "invalid title id" in good["cause"]
    dates = json.loads(_body(client, ingest, "quarantine/dates.mov.error.json"))
    assert "rights windows[0] start" in dates["cause"]
    assert _body(client, ingest, "quarantine/film.mov") == b"media bytes"


def test_pure_helpers() -> None:
    from workers import ingest_bucket as ib

    assert ib.sidecar_key("in/My Film.mov") == "in/My Film.json"
    assert ib.default_title_id("in/My Film (2024).mov") == "My-Film-2024"
    assert ib.classify("in/archive/a.mov", "in") == "ignore"
    assert ib.classify("in/a.mov.error.json", "in") == "ignore"
    assert ib.classify("in/a.en.vtt", "in") == "ignore"
    assert ib.classify("in/a.mov", "in") == "candidate"
    assert "'..'" in ib.classify("in/../a.mov", "in")
    assert ib.archive_key("in", "in/sub/a.mov") == "in/archive/sub/a.mov"
    assert ib.quarantine_key("", "a.mov") == "quarantine/a.mov"
    assert os.path.basename(ib.claim_object_key("", "a.mov", '"e1"')) == "a.mov.e1.claim"


def test_sidecar_options_reach_the_job_and_rights_are_imported_when_done(
    s3_endpoint: str,
    vod_env: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy import text

    from catalogue.db import make_engine
    from pipeline.storage.s3 import ensure_bucket, s3_client
    from workers.jobs import create_job, set_job

    ingest, _ = _names()
    client = s3_client(s3_endpoint)
    ensure_bucket(ingest, client=client)
    client.put_object(Bucket=ingest, Key="in/film.mov", Body=b"film")
    client.put_object(Bucket=ingest, Key="in/film.en.vtt", Body=b"WEBVTT\n")
    sidecar = {
        "title_id": "film-1",
        "device_classes": ["tv", "mobile"],
        "drm": {"systems": "clearkey", "scheme": "cbcs"},
        "subtitles": [{"key": "in/film.en.vtt", "language": "en"}],
        "rights": [{"territory": "GB", "license_type": "SVOD", "start": "2026-01-01"}],
    }
    client.put_object(Bucket=ingest, Key="in/film.json", Body=json.dumps(sidecar).encode())
    specs: list[Any] = []

    def submit(spec: Any) -> str:
        specs.append(spec)
        create_job(spec)
        return "queued"

    db = f"sqlite:///{tmp_path / 'catalogue.db'}"
    monkeypatch.setenv("VOD_DATABASE_URL", db)
    watcher = _watcher(f"s3://{ingest}/in", "s3://origin-x/titles", submit=submit)
    assert [e.kind for e in watcher.scan()] == ["submitted"]
    (spec,) = specs
    assert spec.title_id == "film-1" and spec.device_classes == ["tv", "mobile"]
    assert spec.drm.systems == "clearkey" and spec.drm.scheme == "cbcs"
    assert [(s.path, s.language) for s in spec.subtitles] == [
        (f"s3://{ingest}/in/film.en.vtt", "en")
    ]
    assert spec.source == f"s3://{ingest}/in/film.mov" and spec.origin == "s3://origin-x/titles"
    assert watcher.scan() == []  # still running: nothing moves
    set_job(spec.job_id, state="done", summary={"hls": "s3://origin-x/titles/film-1/master.m3u8"})
    (event,) = watcher.scan()
    assert event.kind == "archived" and "rights=imported(1 inserted" in event.detail, event
    assert _keys(client, ingest) == [
        "in/archive/film.en.vtt",
        "in/archive/film.json",
        "in/archive/film.mov",
    ]
    with make_engine(db).connect() as conn:
        assert conn.execute(text("select count(*) from windows")).scalar() == 1


def test_overwritten_source_is_a_new_job_and_the_old_one_lets_go(
    s3_endpoint: str,
    vod_env: dict,
) -> None:
    from pipeline.storage.s3 import ensure_bucket, s3_client
    from workers.jobs import create_job, set_job

    ingest, _ = _names()
    client = s3_client(s3_endpoint)
    ensure_bucket(ingest, client=client)
    client.put_object(Bucket=ingest, Key="a.mov", Body=b"version 1")
    specs: list[Any] = []

    def submit(spec: Any) -> str:
        specs.append(spec)
        create_job(spec)
        return "queued"

    watcher = _watcher(f"s3://{ingest}", submit=submit)
    assert [e.kind for e in watcher.scan()] == ["submitted"]
    client.put_object(Bucket=ingest, Key="a.mov", Body=b"version 2")  # replaced mid-job
    set_job(specs[0].job_id, state="done")
    events = watcher.scan()
    assert [e.kind for e in events] == ["gone", "submitted"], events
    assert "changed since it was claimed" in events[0].detail
    assert specs[1].job_id != specs[0].job_id
    assert list(watcher.pending()) == [specs[1].job_id]
    assert _body(client, ingest, "a.mov") == b"version 2"  # the new version is never touched
