"""vod/commands/ladder_plot.py: the PNG of a per-title ladder analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.ladders import sample_analysis
from vod.commands.ladder_plot import CHOSEN_COLOUR, DPI, SIZE_PX, write_plot


def _pixels_of(image: np.ndarray, hex_colour: str, tol: float = 0.02) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[:, :, :3] - rgb) < tol).all(axis=2).sum())


def _draw(tmp_path: Path, name: str, **kw: bool) -> np.ndarray:
    from matplotlib.image import imread

    path = tmp_path / name
    write_plot(sample_analysis(**kw), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(str(path))


def test_a_1200_by_800_png_with_the_chosen_rungs_in_their_colour(tmp_path: Path) -> None:
    import matplotlib

    backend = matplotlib.get_backend()
    image = _draw(tmp_path, "with.png")
    assert (image.shape[1], image.shape[0]) == SIZE_PX and DPI == 150
    without = _draw(tmp_path, "without.png", rungs=False)
    assert without.shape == image.shape
    assert _pixels_of(without, CHOSEN_COLOUR) == 0  # nothing else uses the colour
    assert _pixels_of(image, CHOSEN_COLOUR) > 3 * 50  # three big markers (+ legend, labels)
    assert matplotlib.get_backend() == backend  # drawn without switching the process's backend


def test_an_analysis_without_trials_still_draws_the_target(tmp_path: Path) -> None:
    empty = sample_analysis(rungs=False).model_copy(update={"points": [], "hull": []})
    path = tmp_path / "empty.png"
    write_plot(empty, path)
    assert path.stat().st_size > 0
