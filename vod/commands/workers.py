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
from pathlib import Path

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.storage.s3 import is_s3_url
from workers.app import ENCODE, IO, queue_name
from workers.jobs import STAGES, DrmOptions, JobInfo, JobSpec, Subtitle, get_job, job_id_for

POLL_SECONDS = 0.5
err = Console(stderr=True)


def source_identity(source: str) -> tuple[str, str, str]:
    """(bucket, key, version tag) for a stable job id: S3 ETag, or local size + mtime."""
    if source.startswith("s3://"):
        from pipeline.storage.s3 import parse_s3_url, s3_client

        bucket, key = parse_s3_url(source)
        etag = s3_client().head_object(Bucket=bucket, Key=key).get("ETag", "")
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


def _subtitle(value: str) -> Subtitle:
    path, sep, lang = value.rpartition(":")
    if not sep or not path or not lang:
        raise click.BadParameter(f"expected PATH:LANG, got {value!r}")
    return Subtitle(path=path if is_s3_url(path) else str(Path(path).resolve()), language=lang)


@click.command("submit")
@click.argument("source")
@click.option("--title-id", required=True, help="Title id: the folder/prefix on the origin.")
@click.option("--origin", required=True, help="Origin directory or s3://bucket/prefix.")
@click.option(
    "--device-class",
    "device_classes",
    default="web",
    show_default=True,
    help="Comma-separated device classes (web, mobile, tv...).",
)
@click.option("--subtitles", multiple=True, metavar="PATH:LANG", help="Sidecar subtitles.")
@click.option("--segment-seconds", type=float, default=6.0, show_default=True)
@click.option("--chunk-seconds", type=float, default=None, help="Encode in chunks of N s.")
@click.option("--preset", default="veryfast", show_default=True, help="x264/x265 preset.")
@click.option("--drm", "drm_systems", default=None, help="clearkey | widevine,playready,... | all")
@click.option(
    "--scheme", type=click.Choice(["cenc", "cbcs", "both"]), default="cenc", show_default=True
)
@click.option("--key-store", default=None, help="Key store path as seen by the workers.")
@click.option(
    "--key-server",
    default=None,
    metavar="URL",
    help="CPIX/SPEKE key server (workers read its token from $VOD_KEY_SERVER_TOKEN).",
)
@click.option("--license-url", default=None, help="ClearKey licence URL for the manifests.")
@click.option("--force", is_flag=True, help="Run again even when the job is already done.")
@click.option("--wait", is_flag=True, help="Block with a progress display until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job (and summary) as JSON.")
def submit_cmd(
    source: str,
    title_id: str,
    origin: str,
    device_classes: str,
    subtitles: tuple[str, ...],
    segment_seconds: float,
    chunk_seconds: float | None,
    preset: str,
    drm_systems: str | None,
    scheme: str,
    key_store: str | None,
    key_server: str | None,
    license_url: str | None,
    force: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Queue SOURCE (a file or s3:// URL) for the workers; prints the job id."""
    from workers.canvas import submit

    if (key_store or key_server or license_url) and not drm_systems:
        raise click.UsageError("--key-store/--key-server/--license-url need --drm")
    drm = None
    if drm_systems:
        drm = DrmOptions(
            systems=drm_systems,
            scheme=scheme,  # type: ignore[arg-type]
            key_store=str(Path(key_store).resolve()) if key_store else None,
            key_server=key_server,
            license_url=license_url,
        )
    if not origin.startswith("s3://"):
        origin = str(Path(origin).resolve())
    try:
        spec = make_spec(
            source,
            title_id=title_id,
            origin=origin,
            device_classes=[c.strip() for c in device_classes.split(",") if c.strip()],
            drm=drm,
            subtitles=[_subtitle(s) for s in subtitles],
            segment_seconds=segment_seconds,
            chunk_seconds=chunk_seconds,
            preset=preset,
        )
    except ValidationError as exc:
        raise click.UsageError("; ".join(e["msg"] for e in exc.errors())) from None
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
        err.print(f"[red]failed:[/red] {job.error}")
        sys.exit(1)


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
        table.add_row(j.job_id, title, j.state, current, updated, (j.error or "")[:80])
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
            name, s.state, f"{s.progress:.0%}", str(s.attempts), s.worker or "", took, s.error or ""
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
