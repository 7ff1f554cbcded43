"""The one error hierarchy: categories callers act on, pickling across processes, problems."""

from __future__ import annotations

import pickle

import pytest

from core.errors import (
    BadInput,
    ConfigError,
    Conflict,
    NotFound,
    PipelineError,
    ProbeError,
    Refused,
    TranscodeError,
    Transient,
    VodError,
)


@pytest.mark.parametrize(
    "err",
    [
        ProbeError("/w/j1/source/x.mp4", "no video stream", detail="ffprobe said no"),
        TranscodeError("/w/x.mp4", "FFmpeg exited 1", detail="tail"),
        PipelineError("a.srt", "bad cue", stage="subtitles"),
        ConfigError("VOD_MAX_RETRIES", "not a number"),
        Transient("s3://b/k", "S3 answered 503", reason="storage_unavailable"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_pickles_with_all_its_fields(err: VodError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.__dict__ == err.__dict__


def test_one_line_names_stage_resource_and_cause() -> None:
    err = ProbeError("/w/j1/source/x.mp4", "no video stream")
    assert str(err) == "[probe] /w/j1/source/x.mp4: no video stream"
    assert err.one_line() == str(err)


def test_renamed_names_the_source_object_not_the_local_copy() -> None:
    local = "/var/lib/vod/work/j4e37/source/x.mp4"
    err = ProbeError(local, f"{local} has no video stream", detail="d")
    renamed = err.renamed("s3://ingest/x.mp4")
    assert str(renamed) == "[probe] s3://ingest/x.mp4: s3://ingest/x.mp4 has no video stream"
    assert local not in repr(renamed)
    assert renamed.detail == "d"
    assert isinstance(renamed, ProbeError)
    assert str(pickle.loads(pickle.dumps(renamed))) == str(renamed)


@pytest.mark.parametrize(
    ("cls", "status", "category"),
    [
        (BadInput, 422, "bad_input"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (Refused, 403, "refused"),
        (Transient, 503, "transient"),
    ],
)
def test_categories_map_to_http_statuses(cls: type[VodError], status: int, category: str) -> None:
    err = cls("title/t1", "why", reason="specific_reason")
    problem = err.problem(instance="/x")
    assert problem == {
        "type": "urn:vod-pipeline:problem:specific_reason",
        "title": category.replace("_", " "),
        "status": status,
        "detail": "why",
        "reason": "specific_reason",
        "resource": "title/t1",
        "instance": "/x",
    }
    assert err.category == category


def test_pipeline_errors_are_bad_input_and_config_names_the_setting() -> None:
    assert isinstance(ProbeError("f", "c"), BadInput)
    err = ConfigError("VOD_TIME_LIMIT", "must be a number")
    assert str(err) == "[config] VOD_TIME_LIMIT: must be a number"
    assert err.problem()["reason"] == "bad_config"
