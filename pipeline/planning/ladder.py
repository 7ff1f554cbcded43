"""Bitrate ladders per device class, kept as YAML data in the `ladders` package and validated here.

A typo in a ladder file silently costs bandwidth or breaks playback on a device family, so every
file is checked strictly on load (unknown keys, odd sizes, duplicate rungs...) and errors name the
file, the field and the offending value.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import LadderError

LADDER_PACKAGE = "ladders"
_CLASS_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_PROFILES = {"h264": ("baseline", "main", "high"), "hevc": ("main", "main10")}
_LEVELS = {
    "h264": ("1.0", "1b", "1.1", "1.2", "1.3", "2.0", "2.1", "2.2", "3.0", "3.1", "3.2",
             "4.0", "4.1", "4.2", "5.0", "5.1", "5.2", "6.0", "6.1", "6.2"),
    "hevc": ("1.0", "2.0", "2.1", "3.0", "3.1", "4.0", "4.1", "5.0", "5.1", "5.2", "6.0", "6.1",
             "6.2"),
}  # fmt: skip
_REFERENCE_ASPECT = 16 / 9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Rung(_Strict):
    """One reference rung, sized for a 16:9 landscape source; planning adapts it to the source."""

    width: int = Field(gt=0, le=7680)
    height: int = Field(gt=0, le=4320)
    bitrate_kbps: int = Field(gt=0, le=100_000)
    maxrate_factor: float | None = Field(default=None, ge=1.0, le=4.0)  # overrides the ladder's

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even (4:2:0 chroma needs even dimensions)")
        return value

    @model_validator(mode="after")
    def _sixteen_nine(self) -> Rung:
        if abs(self.width / self.height - _REFERENCE_ASPECT) > 0.01 * _REFERENCE_ASPECT:
            raise ValueError(
                f"{self.width}x{self.height} is not a 16:9 reference size "
                "(rungs are written for 16:9 and adapted to each source's aspect ratio)"
            )
        return self


class StereoAudio(_Strict):
    codec: Literal["aac"] = "aac"
    channels: Literal[2] = 2
    bitrate_kbps: int = Field(gt=0, le=512)


class SurroundAudio(_Strict):
    codec: Literal["eac3", "aac"]
    channels: Literal[6] = 6
    bitrate_kbps: int = Field(gt=0, le=1536)


class ThumbnailSize(_Strict):
    """A 16:9 reference box for one thumbnail; planning fits it to the source like a rung."""

    width: int = Field(gt=0, le=1920)
    height: int = Field(gt=0, le=1080)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even (4:2:0 chroma needs even dimensions)")
        return value


class Thumbnails(_Strict):
    """Scrubbing thumbnails: one picture every `interval_seconds` (rounded to whole GOPs), packed
    `columns` x `rows` to a JPEG tile image; `jpeg_qscale` is FFmpeg's mjpeg -q:v (2 best,
    31 smallest); an image above `max_image_kb` is re-encoded smaller until it fits."""

    interval_seconds: float = Field(default=2.0, gt=0, le=60)
    sizes: list[ThumbnailSize] = Field(min_length=1, max_length=4)
    columns: int = Field(default=5, ge=1, le=20)
    rows: int = Field(default=5, ge=1, le=20)
    jpeg_qscale: int = Field(default=5, ge=2, le=31)
    max_image_kb: int = Field(default=400, ge=8, le=20_000)


class PerTitle(_Strict):
    """Bounds of a per-title ladder (`--ladder per-title`), chosen on the measured VMAF hull:
    the top rung at `target_vmaf` (never above `max_kbps`), lower rungs `step_vmaf` apart
    (about one just-noticeable difference) down to `min_kbps`, at most `max_rungs`; trials at
    `rate_points` bitrates per size. Unset bitrates: the fixed ladder's lowest / highest."""

    target_vmaf: float = Field(default=95.0, gt=0, le=100)
    step_vmaf: float = Field(default=6.0, ge=1, le=50)
    min_kbps: int | None = Field(default=None, gt=0, le=100_000)
    max_kbps: int | None = Field(default=None, gt=0, le=100_000)
    max_rungs: int = Field(default=8, ge=1, le=20)
    rate_points: int = Field(default=4, ge=2, le=8)

    @model_validator(mode="after")
    def _bounds(self) -> PerTitle:
        if self.min_kbps and self.max_kbps and self.min_kbps >= self.max_kbps:
            raise ValueError(f"min_kbps {self.min_kbps} must be below max_kbps {self.max_kbps}")
        return self


class Ladder(_Strict):
    device_class: str
    description: str | None = None
    max_frame_rate: float = Field(gt=0, le=120)
    codec: Literal["h264", "hevc"] = "h264"
    profile: str
    level: str | None = None
    maxrate_factor: float = Field(default=1.5, ge=1.0, le=4.0)
    rungs: list[Rung] = Field(min_length=1)
    audio: StereoAudio
    surround: SurroundAudio | None = None
    thumbnails: Thumbnails | None = None
    per_title: PerTitle = Field(default_factory=PerTitle)
    min_vmaf: float | None = Field(default=None, ge=0, le=100)  # quality floor per rendition

    @field_validator("device_class")
    @classmethod
    def _class_name(cls, value: str) -> str:
        if not _CLASS_NAME.fullmatch(value):
            raise ValueError("must be lower-case letters, digits, '-' or '_' (max 32)")
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _level_text(cls, value: Any) -> Any:
        """Accept `level: 4` / `level: 4.0` (YAML numbers) as well as `"4.0"`."""
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return f"{float(value):.1f}"
        if isinstance(value, str) and re.fullmatch(r"\d", value):
            return f"{value}.0"
        return value

    @model_validator(mode="after")
    def _codec_settings(self) -> Ladder:
        if self.profile not in _PROFILES[self.codec]:
            allowed = ", ".join(_PROFILES[self.codec])
            raise ValueError(f"profile {self.profile!r} is not a {self.codec} profile ({allowed})")
        if self.level is not None and self.level not in _LEVELS[self.codec]:
            raise ValueError(f"level {self.level!r} is not a valid {self.codec} level")
        seen: dict[tuple[int, int, int], int] = {}
        for i, rung in enumerate(self.rungs):
            key = (rung.width, rung.height, rung.bitrate_kbps)
            if key in seen:
                raise ValueError(
                    f"rungs[{i}] duplicates rungs[{seen[key]}] "
                    f"({rung.width}x{rung.height} at {rung.bitrate_kbps} kbps)"
                )
            seen[key] = i
        return self


# --- loading ----------------------------------------------------------------------------------


def available_classes() -> list[str]:
    """Device classes that ship a ladder file, sorted."""
    folder = resources.files(LADDER_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_ladder(device_class: str) -> Ladder:
    """The bundled ladder for `device_class`; LadderError lists the known classes if unknown."""
    known = available_classes()
    if device_class not in known or not _CLASS_NAME.fullmatch(device_class):
        raise LadderError(
            None, f"unknown device class {device_class!r}; available: {', '.join(known)}"
        )
    resource = resources.files(LADDER_PACKAGE).joinpath(f"{device_class}.yaml")
    with resources.as_file(resource) as path:
        ladder = load_ladder_file(path)
    if ladder.device_class != device_class:
        raise LadderError(
            str(resource),
            f"device_class = {ladder.device_class!r} does not match the file name {device_class!r}",
        )
    return ladder


def load_ladder_file(path: str | Path) -> Ladder:
    """Parse and validate one ladder YAML file (safe loader; duplicate keys are an error)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LadderError(path, "ladder file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LadderError(path, f"cannot read ladder file: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeySafeLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise LadderError(path, f"invalid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise LadderError(path, f"expected a mapping of ladder fields at the top, got {kind}")
    try:
        return Ladder.model_validate(data)
    except ValidationError as exc:
        raise LadderError(path, _validation_message(exc)) from exc


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses repeated keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def _validation_message(exc: ValidationError) -> str:
    """`field = value: reason` for each problem, on one line."""
    parts = []
    for err in exc.errors():
        where = _location(err["loc"])
        reason = _reason(err)
        value = err.get("input")
        if err["type"] == "missing":
            parts.append(f"{where}: missing required field")
        elif err["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown key (value {_short(value)})")
        elif isinstance(value, dict | list):
            parts.append(f"{where}: {reason}" if where else reason)
        else:
            parts.append(f"{where} = {_short(value)}: {reason}")
    shown = parts[:3]
    more = f" (+{len(parts) - 3} more)" if len(parts) > 3 else ""
    return "invalid ladder: " + "; ".join(shown) + more


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "literal[", "tagged-union[")):
            continue  # pydantic's internal validator names add nothing for a reader
        else:
            out += f".{part}" if out else str(part)
    return out


def _reason(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
