"""`vod ingest`: the in-process driver of the title workflow, with a progress bar per stage.

The options are the ones `vod submit` takes (`vod.options`); the work is
`pipeline.workflow.title.build_title`. `--json` prints the title summary and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from pipeline.workflow.spec import DEFAULT_BASE_URL
from vod.errors import err, friendly_errors
from vod.options import drm_options, spec_fields, title_options


@click.command("ingest")
@click.argument("source", type=click.Path(path_type=Path))
@title_options
@drm_options
@click.option(
    "--catalogue-db",
    default=None,
    metavar="URL",
    envvar="VOD_DATABASE_URL",
    help="Record the title in this catalogue database (SQLAlchemy URL) after publishing "
    "(default $VOD_DATABASE_URL).",
)
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="Public URL of the origin, for the catalogue's manifest URLs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
@friendly_errors
def ingest_cmd(
    source: Path, catalogue_db: str | None, base_url: str, as_json: bool, **params: Any
) -> None:
    """Probe, plan, transcode, package, write manifests, validate and publish SOURCE."""
    from pydantic import ValidationError

    from pipeline.workflow.protection import protection_for
    from pipeline.workflow.spec import CatalogueTarget, TitleSpec
    from pipeline.workflow.title import build_title

    try:
        spec = TitleSpec(
            source=str(source),
            catalogue=CatalogueTarget(database_url=catalogue_db, base_url=base_url)
            if catalogue_db
            else None,
            **spec_fields(params),
        )
    except ValidationError as e:
        raise click.UsageError("; ".join(x["msg"] for x in e.errors())) from None
    protection = None
    if spec.drm is not None:  # operator keys and the token stay in this process
        protection = protection_for(
            spec.drm, keys=params["raw_keys"], token=params["key_server_token"]
        )
    with StageProgress(enabled=not as_json) as report:
        result = build_title(spec, progress=report, protection=protection)
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    _print_summary(summary, result.location, params["origin"], remote=result.remote)


def _print_summary(summary: dict[str, Any], location: str, origin: str, *, remote: bool) -> None:
    err.print(f"[green]published[/green] {location}", markup=True)
    for warning in summary.get("warnings", []):  # tracks fitted to the picture, channel maps
        err.print(f"warning: {warning}", markup=False, highlight=False)
    for r in summary["renditions"]:
        if r["kind"] == "video":
            detail = f"{r['width']}x{r['height']} {r['bandwidth'] // 1000} kbps peak"
        elif r["kind"] == "audio":
            detail = f"{r['language']} {r['channels']} ch {r['bandwidth'] // 1000} kbps"
        elif r["kind"] == "image":
            detail = (
                f"{r['width']}x{r['height']} every {r['tile_seconds']:g} s, "
                f"{r['tile_layout']} per image"
            )
        else:
            detail = r["language"]
        click.echo(f"  {r['kind']:5} {r['id']:<18} {r['codecs']:<14} {detail}")
    if "drm" in summary:
        drm = summary["drm"]
        kids = ", ".join(f"{label} {kid}" for label, kid in drm["kids"].items())
        click.echo(f"DRM:  {','.join(drm['systems'])} ({drm['scheme']}); KIDs: {kids}")
    click.echo(f"HLS:  {summary['hls']}\nDASH: {summary['dash']}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in summary["timings"].items())
    click.echo(f"timings: {timings}")
    if not remote:
        click.echo(
            f"watch:   vod serve {origin}  then open "
            f"http://127.0.0.1:8000/?title={summary['title_id']}"
        )
    elif "hls_url" in summary:
        click.echo(f"http:    {summary['hls_url']}\n         {summary['dash_url']}")


class StageProgress:
    """A rich progress bar per stage on stderr; silent when disabled (e.g. --json)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and err.is_terminal
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=err,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> Callable[[str, float], None]:
        if self.enabled:
            self.progress.start()
        return self.report

    def report(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=1.0)
        self.progress.update(self.tasks[stage], completed=fraction)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
