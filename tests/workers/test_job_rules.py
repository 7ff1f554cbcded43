"""The rules of the distributed path that need no encode: Celery settings, job ids, which
faults are retried (by error category), errors that cross the process boundary intact, and
`vod submit` taking the same options as `vod ingest` while refusing to queue secrets.
"""

from __future__ import annotations

import errno
import pickle
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from tests.support.workers import make_job_spec


def test_settings_from_env() -> None:
    from workers.app import settings

    conf = settings(
        {
            "VOD_BROKER_URL": "redis://h:1/2",
            "VOD_QUEUE_PREFIX": "x-",
            "VOD_SOFT_TIME_LIMIT": "10",
            "VOD_VISIBILITY_TIMEOUT": "30",
        }
    )
    assert conf["broker_url"] == "redis://h:1/2"
    assert conf["result_backend"] == "redis://127.0.0.1:6379/1"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["accept_content"] == ["json"] and conf["task_serializer"] == "json"
    assert conf["task_soft_time_limit"] == 10 and conf["task_time_limit"] > 10
    assert conf["broker_transport_options"]["visibility_timeout"] == 30
    assert conf["task_routes"]["vod.encode"]["queue"] == "x-encode"
    assert conf["task_routes"]["vod.*"]["queue"] == "x-io"
    default = settings({})
    assert default["broker_transport_options"]["visibility_timeout"] > default["task_time_limit"]


def test_job_ids_are_stable() -> None:
    from workers.jobs import job_id_for

    a = job_id_for("ingest", "films/a.mov", '"abc"')
    assert a == job_id_for("ingest", "films/a.mov", "abc")
    assert a != job_id_for("ingest", "films/a.mov", "abd")
    assert a != job_id_for("ingest", "films/a.mov", "abc", salt="other options")


def test_submit_refuses_a_bad_title_id_before_queueing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vod.commands.workers import submit_cmd

    args = [str(tmp_path / "a.mp4"), "--title-id", "../escape", "--origin", str(tmp_path)]
    result = CliRunner().invoke(submit_cmd, args)
    assert result.exit_code == 2 and "invalid title id" in result.output


def test_only_transient_faults_retry() -> None:
    from core.errors import ProbeError
    from workers.tasks import is_transient

    assert not is_transient(ProbeError("/x.mp4", "file is empty"))
    assert not is_transient(FileNotFoundError(errno.ENOENT, "gone"))
    assert not is_transient(ValueError("bug"))
    assert is_transient(OSError(errno.EAGAIN, "try again"))
    assert is_transient(ConnectionResetError())
    assert is_transient(redis.exceptions.ConnectionError("down"))


def test_s3_faults_retry_only_when_transient() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from core.errors import PipelineError
    from workers.tasks import is_transient

    def client_error(status: int, code: str) -> ClientError:
        response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "PutObject")  # type: ignore[arg-type]

    def wrapped(cause: Exception) -> PipelineError:
        try:  # as pipeline.storage.s3 does: `raise PipelineError(...) from None`
            try:
                raise cause
            except Exception:
                raise PipelineError("s3://b/k", "cannot upload") from None
        except PipelineError as e:
            return e

    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(client_error(503, "SlowDown"))
    assert not is_transient(client_error(403, "AccessDenied"))
    assert is_transient(wrapped(client_error(500, "InternalError")))
    assert not is_transient(wrapped(client_error(404, "NoSuchBucket")))


def test_transient_fault_is_retried(
    vod_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.tasks
    from workers.jobs import create_job, get_job

    calls: list[str] = []

    def flaky(summary: dict, target: Any) -> str:
        calls.append(summary["title_id"])
        if len(calls) == 1:
            raise ConnectionResetError(errno.ECONNRESET, "catalogue went away")
        return "recorded"

    monkeypatch.setattr(workers.tasks, "record_title", flaky)
    monkeypatch.setattr(workers.tasks.catalogue_task, "retry_backoff", False)
    spec = make_job_spec(tmp_path / "a.mp4", tmp_path / "origin")
    create_job(spec)
    ctx = {"job": spec.model_dump(mode="json"), "summary": {"title_id": spec.title_id}}
    workers.tasks.catalogue_task.apply(args=[ctx])  # eagerly, retries included
    job = get_job(spec.job_id)
    assert len(calls) == 2  # retried once, then succeeded
    assert job.stages["catalogue"].attempts == 2 and job.stages["catalogue"].state == "done"


def test_every_category_decides_the_retry() -> None:
    from core.errors import BadInput, Conflict, NotFound, Refused, Transient
    from workers.tasks import TransientError, describe, is_transient

    assert is_transient(Transient("s3://b", "slow down"))
    assert is_transient(TransientError(None, "ConnectionResetError: reset"))
    for category in (BadInput, NotFound, Conflict, Refused):
        assert not is_transient(category("s3://b/k", "no"))
    assert describe(TransientError("s3://b/k", "reset", stage="s3")) == "[s3] s3://b/k: reset"


def test_worker_errors_cross_the_process_boundary_intact() -> None:
    """Celery hands `on_failure` what survives pickling: our errors do, whole."""
    from celery.utils.serialization import get_pickleable_exception

    from core.errors import ProbeError
    from workers.tasks import TransientError, describe

    local = "/var/tmp/vod-work/j4e37/source/x.mp4"
    err = ProbeError(local, f"{local}: truncated: moov atom not found").renamed("s3://in/x.mp4")
    assert get_pickleable_exception(err) is err
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ProbeError and back.path == "s3://in/x.mp4"
    assert describe(back) == "[probe] s3://in/x.mp4: s3://in/x.mp4: truncated: moov atom not found"
    transient = TransientError("s3://b/k", "SlowDown", stage="s3")
    assert get_pickleable_exception(transient) is transient
    assert "Unpickleable" not in describe(pickle.loads(pickle.dumps(transient)))


def test_named_after_renames_only_the_local_copy(tmp_path: Path) -> None:
    from core.errors import ProbeError, TranscodeError
    from pipeline.workflow.steps import named_after

    local = tmp_path / "source" / "x.mp4"
    with pytest.raises(ProbeError) as info, named_after("s3://in/x.mp4", local):
        raise ProbeError(local, "file is empty")
    assert info.value.path == "s3://in/x.mp4" and str(tmp_path) not in str(info.value)
    other = tmp_path / "encode" / "v360.mp4"
    with pytest.raises(TranscodeError) as info, named_after("s3://in/x.mp4", local):
        raise TranscodeError(other, "missing output")
    assert info.value.path == str(other)  # not about the source: left alone


# -- vod submit: the options of vod ingest, no secrets in the queue ---------------------------


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Specs `vod submit` would queue (the broker is not touched)."""
    specs: list[Any] = []

    def fake_submit(spec: Any, force: bool = False) -> str:
        specs.append(spec)
        return "queued"

    monkeypatch.setattr("workers.canvas.submit", fake_submit)
    return specs


def _submit(tmp_path: Path, *extra: str) -> Any:
    from vod.commands.workers import submit_cmd

    args = [str(tmp_path / "a.mp4"), "--title-id", "t", "--origin", str(tmp_path / "o"), *extra]
    return CliRunner().invoke(submit_cmd, args)


def test_submit_takes_the_ingest_defaults(queued: list[Any], tmp_path: Path) -> None:
    subs = tmp_path / "a.srt"
    result = _submit(tmp_path, "--drm", "clearkey", "--subtitles", f"{subs}:pt-BR",
                     "--subtitles", "s3://in/a.vtt:en", "--subtitles", "s3://in/b.vtt")  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = queued[0]
    assert spec.drm.scheme == "cbcs"  # as on vod ingest (it was cenc on submit)
    assert spec.preset == "veryfast" and spec.segment_seconds == 6.0
    assert spec.origin == str((tmp_path / "o").resolve())
    assert [(s.path, s.language) for s in spec.subtitles] == [
        (str(subs.resolve()), "pt-BR"),
        ("s3://in/a.vtt", "en"),
        ("s3://in/b.vtt", "und"),
    ]


def test_submit_refuses_secrets_and_bad_tags(
    queued: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "SD:00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f"
    result = _submit(tmp_path, "--drm", "clearkey", "--key", key)
    assert result.exit_code == 2 and "never carries content keys" in result.output
    assert "000102030405060708090a0b0c0d0e0f" not in result.output
    server = ("--drm", "clearkey", "--key-server", "http://k")
    result = _submit(tmp_path, *server, "--key-server-token", "s")
    assert result.exit_code == 2 and "VOD_KEY_SERVER_TOKEN" in result.output
    monkeypatch.setenv("VOD_KEY_SERVER_TOKEN", "from-env")  # the submitter's env: not sent
    assert _submit(tmp_path, *server).exit_code == 0
    assert "from-env" not in queued[-1].model_dump_json()
    result = _submit(tmp_path, "--subtitles", f"{tmp_path / 'a.srt'}:en_GB")
    assert result.exit_code == 2 and "not a BCP-47 language tag" in result.output
    result = _submit(tmp_path, "--drm", "bogus")
    assert result.exit_code == 2 and "unknown DRM system" in result.output
    assert _submit(tmp_path, "--key-store", "k.sqlite").exit_code == 2  # needs --drm
    assert len(queued) == 1


def test_ingest_and_submit_share_their_options() -> None:
    from vod.commands.ingest import ingest_cmd
    from vod.commands.workers import submit_cmd

    def shared(cmd: Any) -> dict[str, tuple]:
        return {p.name: (p.opts, p.default, p.help) for p in cmd.params if p.name != "as_json"}

    ingest, submit = shared(ingest_cmd), shared(submit_cmd)
    common = set(ingest) & set(submit)
    assert common >= {"title_id", "origin", "device_classes", "subtitles", "segment_seconds",
                      "preset", "drm_systems", "scheme", "raw_keys", "key_store", "key_server",
                      "key_server_token", "license_url"}  # fmt: skip
    assert {name: ingest[name] for name in common} == {name: submit[name] for name in common}


def test_job_tables_show_errors_as_plain_text() -> None:
    """`[probe]` in an error is text, not rich markup swallowed on the way to the terminal."""
    from rich.console import Console

    from vod.commands.workers import _stage_table
    from workers.jobs import JobInfo, StageInfo

    error = "[probe] s3://in/x.mp4: file is empty"
    job = JobInfo(job_id="j1", state="failed", error=error,
                  stages={"probe": StageInfo(state="failed", error=error)})  # fmt: skip
    job.stages.update({s: StageInfo() for s in ("plan", "encode", "package", "publish",
                                                 "catalogue", "finalize")})  # fmt: skip
    console = Console(record=True, width=200)
    console.print(_stage_table(job))
    assert "[probe] s3://in/x.mp4" in console.export_text()
