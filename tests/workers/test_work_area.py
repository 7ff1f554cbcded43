"""The work area of clear encodes is private: never in the origin's bucket, never public.

Resolution rules run without S3; the bucket checks, the probe step's refusal and the monitor's
sweep of the shared area run against a real moto_server (and Redis for the job records).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from tests.support.common import MediaFactory
from tests.support.workers import make_job_spec

JOB = "j" + "0" * 24


@pytest.fixture
def buckets(s3_endpoint: str) -> dict[str, Any]:
    """An ingest, a public origin and its default private work bucket (`<origin>-work`)."""
    from pipeline.storage.s3 import ensure_bucket, s3_client

    tag = uuid.uuid4().hex[:8]
    client = s3_client(s3_endpoint)
    names = {"ingest": f"ingest-{tag}", "origin": f"origin-{tag}", "work": f"origin-{tag}-work"}
    ensure_bucket(names["ingest"], client=client)
    ensure_bucket(names["origin"], public_read=True, client=client)
    ensure_bucket(names["work"], cors=False, client=client)
    return {**names, "client": client}


def _keys(buckets: dict[str, Any], which: str, prefix: str = "") -> list[str]:
    from pipeline.storage.s3_publish import list_keys

    return sorted(list_keys(buckets["client"], buckets[which], prefix))


# -- where the work area is -------------------------------------------------------------------


def test_the_default_work_area_is_a_bucket_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.storage.work_area import work_location

    monkeypatch.delenv("VOD_WORK_URL", raising=False)
    shared = work_location("s3://origin-x/titles", JOB)
    assert shared == f"s3://origin-x-work/{JOB}"
    assert not shared.startswith("s3://origin-x/")  # nothing under the origin's bucket
    assert work_location("/srv/origin", JOB) is None  # a local origin: parts stay local
    monkeypatch.setenv("VOD_WORK_URL", "none")
    assert work_location("s3://origin-x/titles", JOB) is None
    monkeypatch.setenv("VOD_WORK_URL", "s3://private-parts/vod/")
    assert work_location("s3://origin-x/titles", JOB) == f"s3://private-parts/vod/{JOB}"


@pytest.mark.parametrize("inside", ["s3://origin-x/work", "s3://origin-x", "s3://origin-x/titles"])
def test_a_work_url_in_the_origins_bucket_is_refused(
    monkeypatch: pytest.MonkeyPatch, inside: str
) -> None:
    from pipeline.storage.work_area import work_location

    monkeypatch.setenv("VOD_WORK_URL", inside)
    with pytest.raises(ConfigError) as caught:
        work_location("s3://origin-x/titles", JOB)
    err = caught.value
    assert err.path == "VOD_WORK_URL" and err.reason == "bad_config"
    assert "origin s3://origin-x/titles, which players read" in err.cause
    assert "private bucket" in err.cause


def test_a_work_url_that_is_not_s3_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.storage.work_area import work_location

    monkeypatch.setenv("VOD_WORK_URL", "/mnt/shared")
    with pytest.raises(ConfigError, match="not an s3:// URL") as caught:
        work_location("s3://origin-x/titles", JOB)
    assert caught.value.path == "VOD_WORK_URL"


def test_a_work_dir_inside_a_local_origin_is_refused(tmp_path: Path) -> None:
    from pipeline.storage.work_area import check_work_area

    origin = tmp_path / "origin"
    with pytest.raises(ConfigError, match="inside the origin directory") as caught:
        check_work_area(str(origin), origin / "work")
    assert caught.value.path == "VOD_WORK_DIR"
    assert check_work_area(str(origin), tmp_path / "work") is None  # beside it: fine


# -- the bucket checks (moto_server) ------------------------------------------------------------


def test_the_default_work_bucket_is_used_only_when_it_exists(
    buckets: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.storage.s3 import ensure_bucket
    from pipeline.storage.work_area import check_work_area

    monkeypatch.delenv("VOD_WORK_URL", raising=False)
    origin = f"s3://{buckets['origin']}/titles"
    assert check_work_area(origin, tmp_path) == f"s3://{buckets['work']}"
    bare = f"bare-{uuid.uuid4().hex[:8]}"  # an origin with no work bucket beside it
    ensure_bucket(bare, public_read=True, client=buckets["client"])
    with pytest.raises(ConfigError) as caught:
        check_work_area(f"s3://{bare}/titles", tmp_path)
    message = caught.value.one_line()
    assert message.startswith("[config] VOD_WORK_URL: no private work area")
    assert f"s3://{bare}-work" in message and "set VOD_WORK_URL" in message


def test_a_work_bucket_anyone_can_read_is_refused(
    buckets: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.storage.s3 import ensure_bucket
    from pipeline.storage.work_area import check_work_area

    public = f"public-{uuid.uuid4().hex[:8]}"
    ensure_bucket(public, public_read=True, client=buckets["client"])
    monkeypatch.setenv("VOD_WORK_URL", f"s3://{public}/parts")
    with pytest.raises(ConfigError, match="lets anyone read its objects"):
        check_work_area(f"s3://{buckets['origin']}/titles", tmp_path)
    monkeypatch.setenv("VOD_WORK_URL", f"s3://{buckets['ingest']}/parts")  # private: fine
    assert check_work_area(f"s3://{buckets['origin']}/titles", tmp_path) == (
        f"s3://{buckets['ingest']}/parts"
    )


def test_the_probe_step_refuses_a_work_area_in_the_origin_before_any_download(
    vod_env: dict,
    buckets: dict[str, Any],
    media_factory: MediaFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.storage.s3 import upload_file
    from workers.idempotency import work_root
    from workers.jobs import create_job, get_job
    from workers.tasks import probe_task

    source = f"s3://{buckets['ingest']}/in/short.mp4"
    upload_file(media_factory("short"), source)
    monkeypatch.setenv("VOD_WORK_URL", f"s3://{buckets['origin']}/work")
    spec = make_job_spec(source, f"s3://{buckets['origin']}/titles")
    create_job(spec)
    result = probe_task.apply(args=[spec.model_dump(mode="json")], throw=False)  # as a worker
    assert result.failed() and isinstance(result.result, ConfigError)
    job = get_job(spec.job_id)
    assert job.state == "failed" and job.stages["probe"].state == "failed"
    assert job.error.startswith("[config] VOD_WORK_URL: "), job.error
    assert "which players read" in job.error
    assert not (work_root() / spec.job_id / "source").exists()  # nothing was downloaded
    assert _keys(buckets, "origin") == []


def test_the_sweep_drops_the_shared_area_of_ended_jobs_only(
    vod_env: dict, buckets: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A folder left on a machine marks a job whose shared parts may still be in the work
    bucket (S3 was away when it ended): the monitor's sweep drops both."""
    from pipeline.storage.s3 import upload_file
    from workers.cleanup import sweep_work_dir
    from workers.idempotency import job_dir, work_root
    from workers.jobs import create_job, job_key, set_job

    monkeypatch.delenv("VOD_WORK_URL", raising=False)
    part = tmp_path / "v360p365.mp4"
    part.write_bytes(b"clear video")
    specs = {}
    for state in ("failed", "running"):
        spec = make_job_spec(tmp_path / f"{state}.mp4", f"s3://{buckets['origin']}/titles")
        create_job(spec)
        set_job(spec.job_id, state=state)
        (job_dir(spec.job_id) / "encode").mkdir()
        upload_file(part, f"s3://{buckets['work']}/{spec.job_id}/encode/v360p365.mp4")
        specs[state] = spec
    try:
        assert specs["failed"].job_id in sweep_work_dir()
        assert _keys(buckets, "work", specs["failed"].job_id) == []
        assert not (work_root() / specs["failed"].job_id).exists()
        running = specs["running"].job_id
        assert _keys(buckets, "work", running) == [f"{running}/encode/v360p365.mp4"]
        assert (work_root() / running / "encode").is_dir()
    finally:
        from workers.idempotency import remove_job_dir
        from workers.jobs import client

        client().delete(*(job_key(s.job_id) for s in specs.values()))
        for spec in specs.values():
            remove_job_dir(spec.job_id)
