#!/usr/bin/env bash
# From a fresh clone to a title you can watch: setup, package the sample clip
# into ./origin, then tell how to serve and watch it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/setup.sh

SAMPLE=fixtures/sample.mov
if [ ! -f "$SAMPLE" ]; then
  # No sample in this checkout: make a 10 s test card so the quickstart still works.
  SAMPLE=out/sample.mov
  mkdir -p out
  echo "[quickstart] fixtures/sample.mov missing: generating $SAMPLE with ffmpeg"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=1280x720:rate=24:duration=10 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=10 \
    -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$SAMPLE"
fi

echo "[quickstart] vod ingest $SAMPLE --title-id sample --origin ./origin --device-class web"
.venv/bin/vod ingest "$SAMPLE" --title-id sample --origin ./origin --device-class web

cat <<'MSG'

[quickstart] Packaged into ./origin/sample. To watch it:

    .venv/bin/vod serve ./origin

then open http://127.0.0.1:8000/?title=sample&autoplay=1
(pick shaka-player, hls.js or dash.js and HLS or DASH on the page).
MSG
