"""The `vod` console command: one front for every stage and service."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from core.errors import PipelineError
from vod.errors import EXIT_ERROR, err, friendly_errors

device_class_option = click.option(
    "--device-class",
    "device_classes",
    default="web",
    show_default=True,
    help="Comma-separated device classes (tv, stb, mobile, web).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show FFmpeg's output on errors.")
@click.version_option(package_name="vod-pipeline")
def main(verbose: bool) -> None:
    """vod-pipeline: mezzanine in, CMAF HLS + DASH out."""


@main.command("probe")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the probe result as JSON.")
@friendly_errors
def probe_cmd(source: Path, as_json: bool) -> None:
    """Describe a source: container, duration and every stream."""
    from pipeline.analysis.probe import probe

    info = probe(source)
    if as_json:
        click.echo(info.model_dump_json(indent=2))
        return
    click.echo(f"{info.path}: {info.container}, {info.duration:.3f} s, {info.size} bytes")
    for v in info.video:
        hdr = " HDR" if v.hdr else ""
        click.echo(
            f"  video #{v.index}: {v.codec} {v.profile or ''} {v.width}x{v.height} "
            f"(display {v.display_width}x{v.display_height}, SAR {v.sample_aspect_ratio}, "
            f"rotation {v.rotation}) {v.fps:.3f} fps{' VFR' if v.variable_frame_rate else ''} "
            f"{v.bit_depth}-bit {v.color_transfer or ''}{hdr}"
            f"{' interlaced' if v.interlaced else ''}"
        )
    for a in info.audio:
        click.echo(
            f"  audio #{a.index}: {a.codec} {a.language} {a.channels} ch "
            f"({a.channel_layout or '?'}) {a.sample_rate} Hz"
        )
    for s in info.subtitles:
        click.echo(f"  subtitle #{s.index}: {s.codec} {s.language}")


@main.group("ladder")
def ladder_group() -> None:
    """Ladder definitions per device class."""


@ladder_group.command("plan")
@click.argument("source", type=click.Path(path_type=Path))
@device_class_option
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def ladder_plan_cmd(source: Path, device_classes: str, as_json: bool) -> None:
    """Show the encoding plan for SOURCE."""
    from pipeline.analysis.probe import probe
    from pipeline.planning.planner import format_plan, plan

    p = plan(probe(source), _classes(device_classes))
    click.echo(p.model_dump_json(indent=2) if as_json else format_plan(p))


@ladder_group.command("list")
def ladder_list_cmd() -> None:
    """List the device classes with a ladder."""
    from pipeline.planning.ladder import available_classes

    for name in available_classes():
        click.echo(name)


@main.command("ingest")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--title-id", required=True, help="Id of the title on the origin.")
@click.option(
    "--origin",
    required=True,
    help="Origin directory or s3://BUCKET/PREFIX; the title lands in ORIGIN/TITLE_ID.",
)
@device_class_option
@click.option(
    "--subtitles",
    multiple=True,
    metavar="FILE[:LANG]",
    help="Sidecar WebVTT or SRT subtitles; repeatable.",
)
@click.option("--segment-seconds", default=6.0, show_default=True, type=float)
@click.option(
    "--drm",
    "drm_systems",
    default=None,
    metavar="SYSTEMS",
    help="Encrypt: clearkey | widevine,playready,fairplay,clearkey | all.",
)
@click.option(
    "--scheme",
    type=click.Choice(["cenc", "cbcs", "both"]),
    default="cbcs",
    show_default=True,
    help="CENC scheme; both = cenc set for DASH, cbcs for HLS.",
)
@click.option(
    "--key",
    "raw_keys",
    multiple=True,
    metavar="LABEL:KID:KEY",
    help="Bring your own key per label (AUDIO, SD, HD, UHD); repeatable.",
)
@click.option(
    "--key-store",
    type=click.Path(path_type=Path),
    default=None,
    help="Local key store (default $VOD_KEY_STORE or ~/.local/share/vod-pipeline).",
)
@click.option(
    "--key-server", default=None, metavar="URL", help="CPIX / SPEKE v2 key server to get keys from."
)
@click.option(
    "--key-server-token",
    default=None,
    envvar="VOD_KEY_SERVER_TOKEN",
    help="Bearer token for --key-server.",
)
@click.option(
    "--license-url",
    default=None,
    metavar="URL",
    help="ClearKey licence URL to write into the manifests.",
)
@click.option(
    "--catalogue-db",
    default=None,
    metavar="URL",
    envvar="VOD_CATALOGUE_DB",
    help="Record the title in this catalogue database (SQLAlchemy URL) after publishing.",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Public URL of the origin, for the catalogue's manifest URLs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
@friendly_errors
def ingest_cmd(
    source: Path,
    title_id: str,
    origin: str,
    device_classes: str,
    subtitles: tuple[str, ...],
    segment_seconds: float,
    drm_systems: str | None,
    scheme: str,
    raw_keys: tuple[str, ...],
    key_store: Path | None,
    key_server: str | None,
    key_server_token: str | None,
    license_url: str | None,
    catalogue_db: str | None,
    base_url: str,
    as_json: bool,
) -> None:
    """Probe, plan, transcode, package, write manifests, validate and publish SOURCE."""
    from pipeline.encode.subtitles import parse_subtitle_arg
    from pipeline.storage.s3 import is_s3_url
    from pipeline.workflow.title import ingest

    subs = [parse_subtitle_arg(s) for s in subtitles]
    protection = None
    if drm_systems:
        protection = _protection(
            drm_systems, scheme, raw_keys, key_store, key_server, key_server_token, license_url
        )
    elif raw_keys or key_server:
        raise click.UsageError("--key/--key-server need --drm")
    with _stage_progress(enabled=not as_json) as report:
        result = ingest(
            source,
            title_id,
            origin if is_s3_url(origin) else Path(origin),
            device_classes=_classes(device_classes),
            subtitles=subs,
            segment_seconds=segment_seconds,
            progress=report,
            protection=protection,
        )
    summary = result.summary()
    if catalogue_db:
        summary["catalogue"] = _record(summary, catalogue_db, base_url)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    where = result.remote.url("") if result.remote else result.title_dir
    err.print(f"[green]published[/green] {where}", markup=True)
    for r in summary["renditions"]:
        if r["kind"] == "video":
            detail = f"{r['width']}x{r['height']} {r['bandwidth'] // 1000} kbps peak"
        elif r["kind"] == "audio":
            detail = f"{r['language']} {r['channels']} ch {r['bandwidth'] // 1000} kbps"
        else:
            detail = r["language"]
        click.echo(f"  {r['kind']:5} {r['id']:<18} {r['codecs']:<14} {detail}")
    if result.protection is not None:
        drm = summary["drm"]
        kids = ", ".join(f"{label} {kid}" for label, kid in drm["kids"].items())
        click.echo(f"DRM:  {','.join(drm['systems'])} ({drm['scheme']}); KIDs: {kids}")
    click.echo(f"HLS:  {result.hls_location}\nDASH: {result.dash_location}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in summary["timings"].items())
    click.echo(f"timings: {timings}")
    if result.remote is None:
        click.echo(
            f"watch:   vod serve {origin}  then open http://127.0.0.1:8000/?title={title_id}"
        )
    elif "hls_url" in summary:
        click.echo(f"http:    {summary['hls_url']}\n         {summary['dash_url']}")


@main.command("validate")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-decode", is_flag=True, help="Skip decoding every segment (faster).")
@friendly_errors
def validate_cmd(target: str, as_json: bool, no_decode: bool) -> None:
    """Check a title (directory, manifest path or URL) against the authoring rules."""
    from pipeline.validate.title import validate

    report = validate(target, decode=not no_decode)
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(report.format_text())
    sys.exit(0 if report.ok else EXIT_ERROR)


@main.command("serve")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--key-store",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Answer ClearKey licence requests (POST /license/clearkey) from this store.",
)
@click.option(
    "--token-secret",
    default=None,
    envvar="VOD_TOKEN_SECRET",
    help="Require Akamai-style HMAC CDN tokens on title requests, signed with this secret.",
)
@friendly_errors
def serve_cmd(
    root: Path, host: str, port: int, key_store: Path | None, token_secret: str | None
) -> None:
    """Serve an origin directory over HTTP (CORS on) with a player page."""
    from playback.origin.server import serve

    serve(root, host, port, key_store=key_store, token_secret=token_secret or None)


@main.group("pssh")
def pssh_group() -> None:
    """PSSH boxes and DRM signalling."""


@pssh_group.command("decode")
@click.argument("value")
@friendly_errors
def pssh_decode_cmd(value: str) -> None:
    """Decode a PSSH (base64, hex, data: URI, PlayReady object, or a file such as init.mp4)."""
    from drm.signalling.pssh import pssh_decode_command

    click.echo(pssh_decode_command(value))


def _protection(
    systems: str,
    scheme: str,
    raw_keys: tuple[str, ...],
    key_store: Path | None,
    key_server: str | None,
    token: str | None,
    license_url: str | None,
) -> Any:
    """Where keys come from: --key flags, else a key server, else the local key store."""
    from drm.encryption.protect import Protection, parse_systems
    from drm.keystore import default_store_path

    if raw_keys:
        from drm.keys import StaticKeyProvider

        provider: Any = StaticKeyProvider.from_args(raw_keys)
    elif key_server:
        from drm.keyexchange.speke import SpekeClient

        kinds = ["cenc", "cbcs"] if scheme == "both" else [scheme]
        provider = SpekeClient(
            key_server,
            token=token,
            scheme=kinds[-1],
            systems=[s for s in parse_systems(systems) if s != "fairplay"],
        )
    else:
        from drm.keystore import LocalKeyStore

        provider = LocalKeyStore(key_store or default_store_path())
    return Protection(
        systems=parse_systems(systems), scheme=scheme, provider=provider, license_url=license_url
    )


def _record(summary: dict[str, Any], database_url: str, base_url: str) -> str:
    """The catalogue stage; its failure is reported but the published title stays."""
    import time

    from catalogue.record import record_title

    start = time.perf_counter()
    try:
        outcome = record_title(summary, database_url, base_url)
    except Exception as e:  # the title is published; say clearly that only the entry failed
        raise PipelineError(
            None, f"title published but not recorded in the catalogue: {e}", stage="catalogue"
        ) from e
    summary["timings"]["catalogue"] = round(time.perf_counter() - start, 3)
    return outcome


def _classes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


class _stage_progress:
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


def _attach_subcommands() -> None:
    """Command groups that live beside the part they drive."""
    from vod.commands.catalogue import catalogue
    from vod.commands.drm import keys_group, keyserver_cmd
    from vod.commands.playback import device, play, qoe
    from vod.commands.subscriber import activate, orders
    from vod.commands.workers import attach

    main.add_command(keys_group)
    main.add_command(keyserver_cmd)
    main.add_command(catalogue)
    main.add_command(activate)
    main.add_command(orders)
    main.add_command(device)
    main.add_command(play)
    main.add_command(qoe)
    attach(main)


_attach_subcommands()

if __name__ == "__main__":
    main()
