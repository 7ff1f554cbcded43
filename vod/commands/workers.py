"""`vod submit`, `vod jobs` and `vod worker`: click commands the `vod` group attaches.

    vod submit SOURCE --title-id ID --origin DIR|s3://... [--wait]
    vod jobs [JOB_ID]
    vod worker [--queues encode,io] [--concurrency N]
    vod watch s3://BUCKET/PREFIX [--origin s3://...] [--once]   (workers/watch.py)

Also runnable alone: `python -m vod.commands.workers worker ...`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import redis
from click.core import ParameterSource
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from core.errors import BadInput, NotFound, Refused, Transient, VodError
from core.settings import settings
from vod.errors import friendly_errors
from vod.options import drm_options, spec_fields, title_options
from workers.app import ENCODE, IO, queue_name
from workers.jobs import STAGES, JobInfo, JobSpec, get_job, job_id_for

POLL_SECONDS = 0.5
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class StateUnavailable(Transient):
    """The job queue's Redis cannot be reached."""


def state_errors(fn: F) -> F:
    """Redis being down is one line naming it (credentials left out), not a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StateUnavailable(_redis_name(settings().job_state), str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _redis_name(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def source_identity(source: str) -> tuple[str, str, str]:
    """(bucket, key, version tag) for a stable job id: S3 ETag, or local size + mtime."""
    if source.startswith("s3://"):
        from botocore.exceptions import BotoCoreError, ClientError

        from pipeline.storage.s3 import parse_s3_url, reason, s3_client

        bucket, key = parse_s3_url(source)
        try:
            etag = s3_client().head_object(Bucket=bucket, Key=key).get("ETag", "")
        except (ClientError, BotoCoreError) as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            kind = {404: NotFound, 403: Refused}.get(status, BadInput)
            if status is None or status >= 500:
                kind = Transient
            raise kind(source, f"cannot read the source: {reason(exc)}") from None
        return bucket, key, etag
    path = Path(source).resolve()
    try:
        st = path.stat()
        tag = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        tag = "missing"  # the probe stage reports it, naming the file
    return "file", str(path), tag


def make_spec(source: str, **options: object) -> JobSpec:
    """A JobSpec whose id is stable for this source version and these options."""
    local = source if source.startswith("s3://") else str(Path(source).resolve())
    draft = JobSpec(job_id="-", source=local, **options)  # type: ignore[arg-type]
    bucket, key, tag = source_identity(source)
    return draft.model_copy(update={"job_id": job_id_for(bucket, key, tag, draft.options_key())})


@click.command("submit")
@click.argument("source")
@title_options
@drm_options
@click.option("--chunk-seconds", type=float, default=None, help="Encode in chunks of N s.")
@click.option("--force", is_flag=True, help="Run again even when the job is already done.")
@click.option("--wait", is_flag=True, help="Block with a progress display until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job (and summary) as JSON.")
@friendly_errors
@state_errors
def submit_cmd(
    source: str,
    chunk_seconds: float | None,
    force: bool,
    wait: bool,
    as_json: bool,
    **params: Any,
) -> None:
    """Queue SOURCE (a file or s3:// URL) for the workers; prints the job id.

    Takes the options of `vod ingest`, except secrets: `--key` is refused (a job never carries
    content keys: serve them from --key-server, or use `vod ingest --key`), and the workers
    read the key server token from their own VOD_KEY_SERVER_TOKEN."""
    from workers.canvas import submit

    _refuse_secrets(params)
    try:
        spec = make_spec(source, chunk_seconds=chunk_seconds, **spec_fields(params, absolute=True))
    except ValidationError as exc:
        raise click.UsageError("; ".join(e["msg"] for e in exc.errors())) from None
    except VodError as exc:  # e.g. an unsafe title id, refused before anything is queued
        raise click.UsageError(exc.cause) from None
    outcome = submit(spec, force=force)
    if not as_json:
        click.echo(spec.job_id)
        if outcome != "queued":
            err.print(
                f"job {spec.job_id} is {outcome.replace('already-', 'already ')}; "
                "use --force to run it again"
            )
    if not wait:
        if as_json:
            click.echo(json.dumps({"job_id": spec.job_id, "submitted": outcome}))
        return
    job = wait_for(spec.job_id, show=not as_json)
    if as_json:
        click.echo(job.model_dump_json(indent=2))
    elif job.state == "done" and job.summary:
        click.echo(f"HLS:  {job.summary.get('hls')}\nDASH: {job.summary.get('dash')}")
    if job.state != "done":
        err.print(f"[red]failed:[/red] {escape(job.error or 'job failed')}")
        sys.exit(1)


def _refuse_secrets(params: dict[str, Any]) -> None:
    """A job message travels through Redis: no content key or token may ride in it."""
    if params["raw_keys"]:
        raise click.UsageError(
            "--key is for vod ingest: a job never carries content keys; let the workers get "
            "them from --key-server (or their key store, --key-store)"
        )
    source = click.get_current_context().get_parameter_source("key_server_token")
    if params["key_server_token"] and source == ParameterSource.COMMANDLINE:
        raise click.UsageError(
            "--key-server-token is for vod ingest: the workers use their own VOD_KEY_SERVER_TOKEN"
        )


def wait_for(job_id: str, *, show: bool = True, timeout: float | None = None) -> JobInfo:
    """Poll the job until it is done or failed, drawing a bar per stage on stderr."""
    deadline = None if timeout is None else time.monotonic() + timeout
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, disable=not show) as bar:
        tasks = {s: bar.add_task(s, total=1.0) for s in STAGES}
        while True:
            job = get_job(job_id)
            if job is None:
                raise click.ClickException(f"no job {job_id}")
            for name, stage in job.stages.items():
                bar.update(tasks[name], completed=1.0 if stage.state == "done" else stage.progress)
            if job.state in ("done", "failed"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise click.ClickException(f"job {job_id} still {job.state} after {timeout}s")
            time.sleep(POLL_SECONDS)


@click.command("jobs")
@click.argument("job_id", required=False)
@click.option("--limit", default=20, show_default=True, help="How many recent jobs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@friendly_errors
@state_errors
def jobs_cmd(job_id: str | None, limit: int, as_json: bool) -> None:
    """List recent jobs, or show one job's stages (state, progress, attempts, error)."""
    from workers.jobs import list_jobs

    if job_id:
        job = get_job(job_id)
        if job is None:
            raise click.ClickException(f"no job {job_id}")
        if as_json:
            click.echo(job.model_dump_json(indent=2))
        else:
            Console().print(_stage_table(job))
        return
    jobs = list_jobs(limit)
    if as_json:
        click.echo(
            json.dumps([j.model_dump(mode="json", exclude={"spec"}) for j in jobs], indent=2)
        )
        return
    table = Table("job", "title", "state", "stage", "updated", "error")
    for j in jobs:
        current = next((s for s in STAGES if j.stages[s].state != "done"), "-")
        updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j.updated or 0))
        title = j.spec.title_id if j.spec else "?"
        table.add_row(j.job_id, title, j.state, current, updated, Text((j.error or "")[:80]))
    Console().print(table)


def _stage_table(job: JobInfo) -> Table:
    title = job.spec.title_id if job.spec else "?"
    table = Table(
        "stage",
        "state",
        "progress",
        "attempts",
        "worker",
        "seconds",
        "error",
        title=f"{job.job_id} ({title}): {job.state}",
    )
    rows = [(s, job.stages[s]) for s in STAGES]
    rows[3:3] = [(f"  encode:{p}", info) for p, info in sorted(job.parts.items())]
    for name, s in rows:
        took = f"{s.finished - s.started:.1f}" if s.started and s.finished else ""
        table.add_row(
            name,
            s.state,
            f"{s.progress:.0%}",
            str(s.attempts),
            s.worker or "",
            took,
            Text(s.error or ""),  # plain text: "[probe] ..." is not markup
        )
    return table


@click.command("worker")
@click.option(
    "--queues",
    default=f"{ENCODE},{IO}",
    show_default=True,
    help="Which queues to serve: encode (FFmpeg), io (probe/package/publish).",
)
@click.option("--concurrency", "-c", type=int, default=None, help="Processes (default: cores).")
@click.option("--name", "-n", default="vod@%h", show_default=True, help="Celery node name.")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option("--pool", default="prefork", show_default=True, help="prefork | solo | threads")
def worker_cmd(queues: str, concurrency: int | None, name: str, loglevel: str, pool: str) -> None:
    """Run a Celery worker for the pipeline's queues (settings from VOD_* environment)."""
    from workers.app import app

    kinds = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [k for k in kinds if k not in (ENCODE, IO)]
    if unknown or not kinds:
        raise click.BadParameter(
            f"queues are {ENCODE} and {IO}, got {queues!r}", param_hint="--queues"
        )
    argv = ["worker", "-Q", ",".join(queue_name(k) for k in kinds), "-n", name, "-l", loglevel]
    argv += ["-P", pool]
    if concurrency:
        argv += ["-c", str(concurrency)]
    app.worker_main(argv)


def attach(group: click.Group) -> None:
    """Add submit, jobs, worker and watch to the `vod` command group."""
    from workers.watch import watch_cmd

    for cmd in (submit_cmd, jobs_cmd, worker_cmd, watch_cmd):
        group.add_command(cmd)


@click.group()
def cli() -> None:
    """Distributed ingest: submit jobs, watch them, run workers."""


attach(cli)

if __name__ == "__main__":
    cli()
