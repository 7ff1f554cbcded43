"""Per-title analysis on the workers (`vod submit --ladder per-title`).

    plan -> chord(group(trial per class and sample window, on the encode queue), choose)

`plan_task` finds the sample windows of each class (the quick complexity pass) and replaces
itself with this chord; each `trial_task` encodes and scores one window's trial rungs (the same
`trial_window` as `vod ingest`); `choose_task` pools them, chooses each class's ladder and
finishes the plan exactly as `plan_task` does for a fixed ladder. Celery appends the rest of
the job's chain (fan-out, publish, ...) to the chord's body.
"""

from __future__ import annotations

from typing import Any

from celery import chord, group

from pipeline.encode.parts import plan_parts
from pipeline.media.info import MediaInfo
from pipeline.media.quality import LadderAnalysis, Sample
from pipeline.planning.ladder import load_ladder
from pipeline.storage.transfer import fetch_source
from pipeline.workflow.per_title import choose, class_plan, sample_windows, trial_window
from pipeline.workflow.quality import require_libvmaf
from pipeline.workflow.steps import named_after, plan_title
from workers import idempotency as idem
from workers.app import app
from workers.jobs import JobSpec
from workers.tasks import EncodeTask, StageTask, _Reporter, _spec, _texts, running

Ctx = dict[str, Any]


def trial_items(spec: JobSpec, media: MediaInfo) -> list[dict[str, Any]]:
    """One work item per class and sample window (the complexity pass runs here, once)."""
    local = fetch_source(spec.source, idem.job_dir(spec.job_id) / "source")
    media = media.model_copy(update={"path": str(local)})
    require_libvmaf(spec.source)
    work = idem.job_dir(spec.job_id) / "trials"
    work.mkdir(parents=True, exist_ok=True)
    items = []
    for device_class in spec.device_classes:
        plan = class_plan(media, device_class, segment_seconds=spec.segment_seconds,
                          audio_map=spec.audio_map)  # fmt: skip
        with named_after(spec.source, local):
            samples = sample_windows(plan, media, work)
        items += [
            {"name": f"{device_class}-{k}", "device_class": device_class, "index": k,
             "sample": s.model_dump(mode="json"), "samples": len(samples)}
            for k, s in enumerate(samples)
        ]  # fmt: skip
    return items


def analysis_chord(ctx: Ctx, items: list[dict[str, Any]]) -> Any:
    slim = {k: ctx[k] for k in ("job", "media")}
    header = group(trial_task.s(slim, item) for item in items)
    return chord(header, choose_task.s({**slim, "trials": items}))


class TrialTask(EncodeTask):
    def record_name(self, args: tuple, kwargs: dict) -> str:
        item = kwargs.get("item") or (args[1] if len(args) > 1 else None)
        return f"encode:trial-{item['name']}" if isinstance(item, dict) else "encode"


@app.task(bind=True, base=TrialTask, name="vod.trial")
def trial_task(self: StageTask, ctx: Ctx, item: dict) -> dict:
    """Encode and score one sample window's trial rungs of one class."""
    spec = _spec(ctx)
    step = f"encode:trial-{item['name']}"
    with running(self, spec.job_id, step):
        result = idem.completed(spec.job_id, step)
        if result is None:
            local = fetch_source(spec.source, idem.job_dir(spec.job_id) / "source")
            media = MediaInfo.model_validate(ctx["media"]).model_copy(update={"path": str(local)})
            device_class = item["device_class"]
            ladder = load_ladder(device_class)
            plan = class_plan(media, device_class, segment_seconds=spec.segment_seconds,
                              audio_map=spec.audio_map, ladder=ladder)  # fmt: skip
            work = idem.job_dir(spec.job_id) / "trials" / item["name"]
            work.mkdir(parents=True, exist_ok=True)
            with named_after(spec.source, local):
                scores = trial_window(
                    plan, ladder, Sample.model_validate(item["sample"]), item["index"], work,
                    media=media, preset=spec.preset, progress=_Reporter(spec.job_id, step),
                )  # fmt: skip
            result = {"item": item, "scores": {k: list(v) for k, v in scores.items()}}
            idem.mark_done(spec.job_id, step, result)
    return result


@app.task(bind=True, base=StageTask, name="vod.choose", stage="plan")
def choose_task(self: StageTask, results: list[dict], ctx: Ctx) -> Ctx:
    """Each class's ladder from its trials, then the plan and its encode parts."""
    spec = _spec(ctx)
    with running(self, spec.job_id, "plan"):
        media = MediaInfo.model_validate(ctx["media"])
        analyses: dict[str, LadderAnalysis] = {}
        for device_class in spec.device_classes:
            mine = sorted(
                (r for r in results if r["item"]["device_class"] == device_class),
                key=lambda r: r["item"]["index"],
            )
            ladder = load_ladder(device_class)
            plan = class_plan(media, device_class, segment_seconds=spec.segment_seconds,
                              audio_map=spec.audio_map, ladder=ladder)  # fmt: skip
            samples = [Sample.model_validate(r["item"]["sample"]) for r in mine]
            scores = [{k: (v[0], v[1]) for k, v in r["scores"].items()} for r in mine]
            analyses[device_class] = choose(plan, ladder, samples, scores)
        plan = plan_title(media, spec, analyses)
        _texts(spec, plan.duration, [])
        parts = plan_parts(plan, spec.chunk_seconds)
    return {
        **{k: ctx[k] for k in ("job", "media")},
        "plan": plan.model_dump(mode="json"),
        "parts": parts,
        "analyses": {c: a.model_dump(mode="json") for c, a in analyses.items()},
    }
