"""The title's quality report (`quality.json`, written beside the manifests) against its floors.

A rendition whose measured mean VMAF is below the `min_vmaf` of its device classes fails the
title: content ops see which rendition, its score and the floor, instead of shipping it.
"""

from __future__ import annotations

from pydantic import ValidationError

from pipeline.media.quality import QualityReport
from pipeline.validate.fetch import Fetcher, FetchError
from pipeline.validate.model import Sink

QUALITY_FILE = "quality.json"


def check_quality(fetcher: Fetcher, uri: str, sink: Sink) -> QualityReport | None:
    """Check `uri` when the title has one (a title without a report is not checked)."""
    try:
        data = fetcher.get(uri, cache=True)
    except FetchError:
        return None
    try:
        report = QualityReport.model_validate_json(data)
    except ValidationError as e:
        first = e.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "top level"
        sink.add("quality.report", uri, f"{place}: {first['msg']}")
        return None
    for r in report.renditions:
        if r.below_floor:
            sink.add(
                "quality.floor",
                uri,
                f"{r.name} ({r.width}x{r.height}, {r.bitrate_kbps} kbps): VMAF {r.vmaf_mean:.2f} "
                f"(5th percentile {r.vmaf_p5:.2f}) is below min_vmaf {r.min_vmaf:g}",
            )
    return report
