"""Mutation testing of the pure core with mutmut 3, one module (or package) per run.

Called by scripts/mutation.sh. mutmut reads its static settings from [tool.mutmut] in
pyproject.toml; this driver sets the two that change per target -- which file(s) to mutate
(`only_mutate`) and which fast unit tests to run (`pytest_add_cli_args_test_selection`) --
so that one target takes minutes, not the hours the whole suite would. Each target starts
from an empty mutants/ folder, so its score never mixes with a previous run's cache.

Score per target: killed / (total - reviewed equivalents). Timeouts count as killed
(the mutant made the tests hang); "no tests" and "suspicious" count as survivors.
Equivalent mutants are listed, one per line with a reason, in tests/mutation_equivalents.txt.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EQUIVALENTS = REPO / "tests" / "mutation_equivalents.txt"
REPORT_DIR = REPO / ".mutation"

# target (file, or package folder) -> the fast, pure unit tests that exercise it
TARGETS: dict[str, list[str]] = {
    "qoe/kpi.py": ["tests/qoe/test_qoe.py", "tests/qoe/test_kpi_mutants.py"],
    "catalogue/territories.py": [
        "tests/catalogue/test_rights_sidecar.py",
        "tests/catalogue/test_territories_mutants.py",
    ],
    "catalogue/entitlement.py": [
        "tests/catalogue/test_entitlement.py",
        "tests/catalogue/test_window_language.py",
        "tests/catalogue/test_entitlement_mutants.py",
    ],
    "drm/signalling/pssh.py": [
        "tests/drm/test_pssh.py",
        "tests/drm/test_pssh_decode.py",
        "tests/drm/test_pssh_mutants.py",
    ],
    "drm/signalling/hls.py": [
        "tests/drm/test_signalling.py",
        "tests/drm/test_pssh_decode.py",
        "tests/drm/test_signalling_hls_mutants.py",
    ],
    "drm/encryption/subsamples.py": [
        "tests/drm/test_subsamples.py",
        "tests/drm/test_subsamples_mutants.py",
    ],
    "drm/encryption": [
        "tests/drm/test_cipher.py",
        "tests/drm/test_subsamples.py",
        "tests/drm/test_subsamples_mutants.py",
        "tests/drm/test_encrypt.py",
        "tests/drm/test_cipher_mutants.py",
        "tests/drm/test_sample_mutants.py",
        "tests/drm/test_protect_mutants.py",
        "tests/drm/test_sample_senc_mutants.py",
    ],
    "drm/encryption/cipher.py": [
        "tests/drm/test_cipher.py",
        "tests/drm/test_encrypt.py",
        "tests/drm/test_cipher_mutants.py",
        "tests/drm/test_sample_mutants.py",
    ],
    "drm/encryption/sample.py": [
        "tests/drm/test_cipher.py",
        "tests/drm/test_encrypt.py",
        "tests/drm/test_sample_mutants.py",
        "tests/drm/test_sample_senc_mutants.py",
    ],
    "drm/encryption/protect.py": ["tests/drm/test_protect_mutants.py"],
    "pipeline/planning": [
        "tests/pipeline/test_ladder.py",
        "tests/pipeline/test_plan.py",
        "tests/pipeline/test_sources_plan.py",
        "tests/pipeline/test_ladder_mutants.py",
        "tests/pipeline/test_planner_mutants.py",
        "tests/pipeline/test_channel_map_mutants.py",
        "tests/pipeline/test_audio_mutants.py",
        "tests/pipeline/test_picture_mutants.py",
        "tests/pipeline/test_display_mutants.py",
        "tests/pipeline/test_alignment_mutants.py",
        "tests/pipeline/test_grouping_mutants.py",
        "tests/pipeline/test_grouping_fps_mutants.py",
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/manifest/hls.py": [
        "tests/pipeline/test_hls.py",
        "tests/pipeline/test_hls_mutants.py",
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/manifest/dash.py": [
        "tests/pipeline/test_dash.py",
        "tests/pipeline/test_dash_mutants.py",
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    # scrubbing thumbnails: plan, FFmpeg branch, JPEG cutting, packaging, manifest text
    "pipeline/planning/thumbnails.py": [
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/encode/thumbnail_cmd.py": [
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/bitstream/jpeg.py": [
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/package/thumbnails.py": [
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/manifest/images.py": [
        "tests/pipeline/test_thumbnails.py",
        "tests/pipeline/test_thumbnails_mutants.py",
    ],
    "pipeline/mp4": [
        "tests/pipeline/test_mp4_boxes.py",
        "tests/pipeline/test_audio_layout.py",
        "tests/pipeline/test_fields_mutants.py",
        "tests/pipeline/test_base_mutants.py",
        "tests/pipeline/test_boxes_mutants.py",
        "tests/pipeline/test_boxes_mutants_2.py",
        "tests/pipeline/test_reader_mutants.py",
        "tests/pipeline/test_mp4_audio_mutants.py",
        "tests/pipeline/test_codecs_mutants.py",
        "tests/pipeline/test_fragment_mutants.py",
    ],
    # the rules on tiny titles built in memory (tests/support/validate_bytes); the older
    # tests/pipeline/validate/test_*_rules.py, test_hostile_input.py and test_title_report.py
    # encode their titles with FFmpeg in session fixtures, far too slow to re-run per mutant
    "pipeline/validate": [
        "tests/pipeline/validate/test_model_mutants.py",
        "tests/pipeline/validate/test_hls_mutants.py",
        "tests/pipeline/validate/test_hls_mutants_2.py",
        "tests/pipeline/validate/test_hls_mutants_3.py",
        "tests/pipeline/validate/test_dash_mutants.py",
        "tests/pipeline/validate/test_dash_mutants_2.py",
        "tests/pipeline/validate/test_media_mutants.py",
        "tests/pipeline/validate/test_title_mutants.py",
        "tests/pipeline/validate/test_title_mutants_2.py",
    ],
}
DEFAULT = [
    "qoe/kpi.py",
    "catalogue/territories.py",
    "drm/signalling/pssh.py",
    "drm/encryption/subsamples.py",
    "drm/signalling/hls.py",
    "pipeline/manifest/dash.py",
]
KILLED = {1, 3, 24, -24, 36, 152, 255}  # mutmut exit codes: test failure, error, timeout


def _globs(target: str) -> list[str]:
    return [target] if target.endswith(".py") else [f"{target.rstrip('/')}/*.py"]


def _tests_for(target: str) -> list[str]:
    target = target.rstrip("/")
    if target in TARGETS:
        return [t for t in TARGETS[target] if (REPO / t).exists()]
    for key in sorted(TARGETS, key=len, reverse=True):
        if target.startswith(key.removesuffix(".py") + "/"):
            return [t for t in TARGETS[key] if (REPO / t).exists()]
    sys.exit(f"mutation: no test selection for {target}; add it to TARGETS in {__file__}")


def run_one(target: str) -> None:
    """Run mutmut in this process with the per-target settings (child of main())."""
    import mutmut.configuration as conf
    from mutmut.__main__ import cli

    cfg = conf._load_config()
    cfg.only_mutate = _globs(target)
    cfg.pytest_add_cli_args_test_selection = _tests_for(target)
    conf._config = cfg
    cli(["run"], standalone_mode=False)


def _equivalents() -> dict[str, str]:
    out: dict[str, str] = {}
    if EQUIVALENTS.exists():
        for line in EQUIVALENTS.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                out[name] = reason.strip()
    return out


def _collect(target: str) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    base = REPO / "mutants"
    for glob in _globs(target):
        for meta in sorted(base.glob(glob + ".meta")):
            codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def main(targets: list[str]) -> int:
    equivalents = _equivalents()
    REPORT_DIR.mkdir(exist_ok=True)
    rows = []
    failed = False
    for target in targets:
        target = target.rstrip("/")
        shutil.rmtree(REPO / "mutants", ignore_errors=True)
        started = time.monotonic()
        print(f"[mutation] {target}: tests {' '.join(_tests_for(target))}", flush=True)
        log = REPORT_DIR / (target.replace("/", "_") + ".log")
        with log.open("w") as out:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", target], cwd=REPO, stdout=out, stderr=out
            )
        wall = time.monotonic() - started
        codes = _collect(target)
        if proc.returncode != 0 or not codes:
            print(f"[mutation] {target}: mutmut failed (exit {proc.returncode}), see {log}")
            rows.append((target, 0, 0, 0, wall, []))
            failed = True
            continue
        killed = sum(1 for c in codes.values() if c in KILLED)
        alive = sorted(n for n, c in codes.items() if c not in KILLED)
        survivors = [n for n in alive if n not in equivalents]
        equiv = len(alive) - len(survivors)
        diffs = []
        for name in survivors:
            shown = subprocess.run(
                [str(Path(sys.executable).with_name("mutmut")), "show", name],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            diffs.append(shown.stdout)
        (REPORT_DIR / (target.replace("/", "_") + ".survivors")).write_text("\n".join(diffs))
        rows.append((target, killed, len(codes), equiv, wall, survivors))
    shutil.rmtree(REPO / "mutants", ignore_errors=True)

    lines = ["module                         killed/total   equiv   score    wall"]
    tot_k = tot_n = tot_e = 0
    for target, killed, total, equiv, wall, _ in rows:
        tot_k, tot_n, tot_e = tot_k + killed, tot_n + total, tot_e + equiv
        score = _pct(killed, total - equiv)
        lines.append(f"{target:30} {killed:5}/{total:<6} {equiv:7} {score:>7} {wall:6.0f}s")
    lines.append(f"{'overall':30} {tot_k:5}/{tot_n:<6} {tot_e:7} {_pct(tot_k, tot_n - tot_e):>7}")
    for target, *_, survivors in rows:
        if survivors:
            slug = target.replace("/", "_")
            lines.append(f"\nsurvivors in {target} (diffs: .mutation/{slug}.survivors):")
            lines.extend(f"  {name}" for name in survivors)
    print("\n" + "\n".join(lines))
    (REPORT_DIR / "summary.txt").write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


def _pct(killed: int, total: int) -> str:
    return f"{100 * killed / total:.1f}%" if total else "-"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        run_one(sys.argv[2])
    else:
        sys.exit(main(sys.argv[1:] or DEFAULT))
