"""The `vod` console command: one front for every stage and service."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.errors import VodError
from vod.errors import EXIT_ERROR, err, friendly_errors
from vod.options import device_class_option, parse_classes


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
            f"{' interlaced' if v.interlaced else ''}, {v.duration or 0:.3f} s "
            f"from {v.start_time:.3f} s"
        )
    for a in info.audio:
        click.echo(
            f"  audio #{a.index}: {a.codec} {a.language} {a.channels} ch "
            f"({a.channel_layout or '?'}) {a.sample_rate} Hz, {a.duration or 0:.3f} s "
            f"from {a.start_time:.3f} s"
        )
    for s in info.subtitles:
        click.echo(f"  subtitle #{s.index}: {s.codec} {s.language}")


@main.group("ladder")
def ladder_group() -> None:
    """Ladder definitions per device class."""


@ladder_group.command("plan")
@click.argument("source", type=click.Path(path_type=Path))
@device_class_option
@click.option("--audio-map", default=None, metavar="LABELS", help="e.g. L,R,C,LFE,Ls,Rs")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def ladder_plan_cmd(
    source: Path, device_classes: str, audio_map: str | None, as_json: bool
) -> None:
    """Show the encoding plan for SOURCE (and what it does to it: notes, warnings)."""
    from pipeline.analysis.probe import probe
    from pipeline.planning.planner import format_plan, plan

    labels = audio_map.split(",") if audio_map else None
    p = plan(probe(source), parse_classes(device_classes), audio_map=labels)
    click.echo(p.model_dump_json(indent=2) if as_json else format_plan(p))


@ladder_group.command("optimize")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--device-class", "device_class", default="web", show_default=True)
@click.option("--preset", default="veryfast", show_default=True, help="x264/x265 preset.")
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write a PNG of bitrate vs VMAF per size, the hull and the chosen rungs.",
)
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def ladder_optimize_cmd(
    source: Path, device_class: str, preset: str, plot: Path | None, as_json: bool
) -> None:
    """Per-title ladder for SOURCE: trial encodes scored with VMAF, rungs chosen on the hull."""
    from pipeline.analysis.probe import probe
    from pipeline.workflow.per_title import analyse_class
    from vod.commands.ladder_view import format_analysis, progress_bar

    media = probe(source)
    with progress_bar(enabled=not as_json) as report:
        analysis = analyse_class(media, device_class, preset=preset, report=report)
    if plot is not None:
        from vod.commands.ladder_plot import write_plot

        write_plot(analysis, plot)
    if as_json:
        click.echo(analysis.model_dump_json(indent=2))
    else:
        click.echo(format_analysis(analysis))
        if plot is not None:
            click.echo(f"plot: {plot}")


@ladder_group.command("list")
def ladder_list_cmd() -> None:
    """List the device classes with a ladder."""
    from pipeline.planning.ladder import available_classes

    for name in available_classes():
        click.echo(name)


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


@main.group("pssh")
def pssh_group() -> None:
    """PSSH boxes and DRM signalling."""


@pssh_group.command("decode")
@click.argument("value")
@friendly_errors
def pssh_decode_cmd(value: str) -> None:
    """Decode a PSSH (base64, hex, data: URI, PlayReady object, or a file such as init.mp4)."""
    from drm.signalling.decode import pssh_decode_command

    click.echo(pssh_decode_command(value))


def _attach_subcommands() -> None:
    """Command groups that live beside the part they drive."""
    from vod.commands.auth import auth_group
    from vod.commands.catalogue import catalogue
    from vod.commands.drm import keys_group, keyserver_cmd
    from vod.commands.ingest import ingest_cmd
    from vod.commands.playback import device, play, qoe, serve_cmd
    from vod.commands.subscriber import activate, orders
    from vod.commands.workers import attach

    main.add_command(ingest_cmd)
    main.add_command(keys_group)
    main.add_command(keyserver_cmd)
    main.add_command(catalogue)
    main.add_command(auth_group)
    main.add_command(activate)
    main.add_command(orders)
    main.add_command(device)
    main.add_command(play)
    main.add_command(serve_cmd)
    main.add_command(qoe)
    attach(main)


try:
    _attach_subcommands()
except VodError as _startup_error:  # e.g. a bad VOD_* setting read while the app configures
    err.print(f"error: {_startup_error.one_line()}", markup=False, soft_wrap=True)
    sys.exit(EXIT_ERROR)

if __name__ == "__main__":
    main()
