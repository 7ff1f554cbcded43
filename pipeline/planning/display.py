"""The plan for people: rich tables for `vod ladder plan`, and plain text for logs. The notes
(what the plan does to the source) and warnings (what to check) come after the tables."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from pipeline.media.plan import AudioRendition, Plan
from pipeline.planning.grouping import fps_label


def plan_tables(plan: Plan) -> list[Table]:
    """Rich tables (video, then audio if any) for the CLI."""
    video = Table(title=f"Video renditions ({len(plan.video)})")
    for column in ("name", "size", "fps", "kbps", "maxrate", "codec", "tonemap", "classes"):
        video.add_column(column, justify="right" if column in ("kbps", "maxrate") else "left")
    for r in plan.video:
        codec = f"{r.codec} {r.profile}" + (f" {r.level}" if r.level else "")
        video.add_row(
            r.name,
            f"{r.width}x{r.height}",
            fps_label(r.frame_rate),
            str(r.bitrate_kbps),
            str(r.maxrate_kbps),
            codec,
            "yes" if r.tonemap else "",
            ", ".join(r.device_classes),
        )
    tables = [video]
    if plan.audio:
        audio = Table(title=f"Audio renditions ({len(plan.audio)})")
        for column in ("name", "lang", "codec", "ch", "kbps", "source", "default", "classes"):
            audio.add_column(column)
        for a in plan.audio:
            audio.add_row(
                a.name,
                a.language,
                a.codec,
                str(a.channels),
                str(a.bitrate_kbps),
                _audio_source(a),
                "yes" if a.default else "",
                ", ".join(a.device_classes),
            )
        tables.append(audio)
    if plan.thumbnails:
        thumbs = Table(title=f"Thumbnails ({len(plan.thumbnails)})")
        for column in ("name", "size", "every", "grid", "images", "jpeg q", "classes"):
            thumbs.add_column(column)
        for t in plan.thumbnails:
            thumbs.add_row(
                t.name,
                f"{t.width}x{t.height}",
                f"{t.interval:g} s",
                f"{t.columns}x{t.rows}",
                str(t.images),
                str(t.jpeg_qscale),
                ", ".join(t.device_classes),
            )
        tables.append(thumbs)
    return tables


def format_plan(plan: Plan, width: int = 110) -> str:
    """The plan as plain text (no colour), e.g. for logs and `vod plan`."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(
        f"{plan.source}: {plan.duration:.2f} s, classes {', '.join(plan.device_classes)}, "
        f"GOP {plan.gop_seconds:g} s, segments {plan.segment_seconds:g} s",
        markup=False,
    )
    for table in plan_tables(plan):
        console.print(table)
    for note in plan.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    for warning in plan.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    return buffer.getvalue()


def _audio_source(a: AudioRendition) -> str:
    """'#1', '#1-#6 as 5.1' (joined mono tracks), with the start offset when there is one."""
    indexes = a.merge_indexes or [a.source_index]
    text = f"#{indexes[0]}" if len(indexes) == 1 else f"#{indexes[0]}-#{indexes[-1]}"
    if a.merge_layout:
        text += f" as {a.merge_layout}"
    if abs(a.offset) >= 0.001:
        text += f" {a.offset:+.3f} s"
    return text
