"""Click options shared by `vod ingest` and `vod submit`: same flags, defaults and help.

Both commands describe one title the same way (`title_options`) and its DRM the same way
(`drm_options`); `spec_fields` turns the parsed values into the fields of a
`pipeline.workflow.spec.TitleSpec`. What differs is only where the work runs: `vod submit`
refuses `--key` and `--key-server-token`, because a job message must never carry a secret (the
workers take keys from their key store or key server, and the token from their own
VOD_KEY_SERVER_TOKEN).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from core.errors import VodError
from pipeline.workflow.protection import DEFAULT_SCHEME, DrmOptions
from pipeline.workflow.spec import DEFAULT_PRESET, DEFAULT_SEGMENT_SECONDS, Subtitle

F = TypeVar("F", bound=Callable[..., Any])
SCHEMES = ("cenc", "cbcs", "both")
NEED_DRM = {"raw_keys": "--key", "key_store": "--key-store", "key_server": "--key-server",
            "license_url": "--license-url"}  # fmt: skip


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


device_class_option = click.option(
    "--device-class",
    "device_classes",
    default="web",
    show_default=True,
    help="Comma-separated device classes (tv, stb, mobile, web).",
)

title_options = _compose(
    click.option("--title-id", required=True, help="Id of the title: its folder on the origin."),
    click.option(
        "--origin",
        required=True,
        help="Origin directory or s3://BUCKET/PREFIX; the title lands in ORIGIN/TITLE_ID.",
    ),
    device_class_option,
    click.option(
        "--subtitles",
        multiple=True,
        metavar="FILE[:LANG]",
        help="Sidecar WebVTT or SRT subtitles (a path or s3:// URL), LANG a BCP-47 tag "
        "(default und); repeatable.",
    ),
    click.option(
        "--segment-seconds", default=DEFAULT_SEGMENT_SECONDS, show_default=True, type=float
    ),
    click.option("--preset", default=DEFAULT_PRESET, show_default=True, help="x264/x265 preset."),
    click.option(
        "--ladder",
        type=click.Choice(["fixed", "per-title"]),
        default="fixed",
        show_default=True,
        help="per-title: choose each class's rungs from trial encodes scored with VMAF "
        "(see `vod ladder optimize`).",
    ),
    click.option(
        "--quality/--no-quality",
        default=None,
        help="Measure VMAF of every video rendition (quality.json, --json summary); "
        "default: on for --ladder per-title.",
    ),
    click.option(
        "--audio-map",
        default=None,
        metavar="LABELS",
        help="Channel label per source audio track, e.g. L,R,C,LFE,Ls,Rs (studio mono "
        "tracks joined into 5.1; Lt,Rt a stereo pair; - leaves a track out).",
    ),
)

drm_options = _compose(
    click.option(
        "--drm",
        "drm_systems",
        default=None,
        metavar="SYSTEMS",
        help="Encrypt: clearkey | widevine,playready,fairplay,clearkey | all.",
    ),
    click.option(
        "--scheme",
        type=click.Choice(SCHEMES),
        default=DEFAULT_SCHEME,
        show_default=True,
        help="CENC scheme; both = cenc set for DASH, cbcs for HLS.",
    ),
    click.option(
        "--key",
        "raw_keys",
        multiple=True,
        metavar="LABEL:KID:KEY",
        callback=lambda ctx, param, value: _parse_keys(value),
        help="Bring your own key per label (AUDIO, SD, HD, UHD); repeatable. `vod ingest` "
        "only: a job never carries keys.",
    ),
    click.option(
        "--key-store",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Local key store (default $VOD_KEY_STORE or ~/.local/share/vod-pipeline/"
        "keys.sqlite); for `vod submit`, the path as the workers see it.",
    ),
    click.option(
        "--key-server", default=None, metavar="URL", help="CPIX / SPEKE v2 key server for keys."
    ),
    click.option(
        "--key-server-token",
        default=None,
        envvar="VOD_KEY_SERVER_TOKEN",
        help="Bearer token for --key-server (workers use their own VOD_KEY_SERVER_TOKEN).",
    ),
    click.option(
        "--license-url",
        default=None,
        metavar="URL",
        help="ClearKey licence URL to write into the manifests.",
    ),
)


def _parse_keys(values: tuple[str, ...]) -> tuple[Any, ...]:
    """`--key` values as ContentKeys; a bad one is a usage error that never echoes the key."""
    if not values:
        return ()
    from drm.keys import parse_key_arg

    try:
        return tuple(parse_key_arg(v) for v in values)
    except VodError as e:
        raise click.BadParameter(e.cause, param_hint="--key") from None


def parse_classes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def parse_subtitles(values: tuple[str, ...], *, absolute: bool = False) -> list[Subtitle]:
    """`FILE[:LANG]` values (LANG validated as a BCP-47 tag, default und); s3:// URLs kept as
    given, local paths made absolute when `absolute` (a worker elsewhere reads them)."""
    from pipeline.encode.subtitles import is_language_tag, parse_subtitle_arg

    subtitles = []
    for value in values:
        _, lang = parse_subtitle_arg(value)  # raises a PipelineError for a bad tag
        head, sep, tail = value.rpartition(":")
        path = head if sep and head and is_language_tag(tail) else value
        if absolute and not path.startswith("s3://"):
            path = str(Path(path).resolve())
        subtitles.append(Subtitle(path=path, language=lang))
    return subtitles


def drm_from(params: dict[str, Any], *, absolute: bool = False) -> DrmOptions | None:
    """The DrmOptions of the parsed `drm_options` values, or None without --drm."""
    if not params["drm_systems"]:
        given = [flag for name, flag in NEED_DRM.items() if params.get(name)]
        if given:
            raise click.UsageError(f"{'/'.join(given)} need --drm")
        return None
    store = params["key_store"]
    if store is not None and absolute:
        store = Path(store).resolve()
    return DrmOptions(
        systems=params["drm_systems"],
        scheme=params["scheme"],
        key_store=str(store) if store is not None else None,
        key_server=params["key_server"],
        license_url=params["license_url"],
    )


def spec_fields(params: dict[str, Any], *, absolute: bool = False) -> dict[str, Any]:
    """TitleSpec fields (all but the source) from the parsed shared options."""
    origin = params["origin"]
    if absolute and not origin.startswith("s3:/"):
        origin = str(Path(origin).resolve())
    return {
        "title_id": params["title_id"],
        "origin": origin,
        "device_classes": parse_classes(params["device_classes"]),
        "subtitles": parse_subtitles(params["subtitles"], absolute=absolute),
        "segment_seconds": params["segment_seconds"],
        "preset": params["preset"],
        "drm": drm_from(params, absolute=absolute),
        "audio_map": params["audio_map"].split(",") if params.get("audio_map") else None,
        "ladder": params["ladder"],
        "quality": params["quality"],
    }
