# vod-pipeline worker / watcher / API image: Debian's FFmpeg (libx264, libx265, AAC, E-AC-3)
# plus the package. One image, the command picks the role (see docker-compose.yml).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY auth ./auth
COPY pipeline ./pipeline
COPY drm ./drm
COPY workers ./workers
COPY vod ./vod
COPY ladders ./ladders
COPY catalogue ./catalogue
COPY subscriber ./subscriber
COPY playback ./playback
COPY qoe ./qoe
COPY api ./api
# celery[redis]: the plain `celery redis` pair misses a dependency and the worker dies.
RUN pip install . "celery[redis]>=5.3"

RUN useradd --system --create-home --home-dir /var/lib/vod vod \
    && mkdir -p /var/lib/vod/work /var/lib/vod/keys \
    && chown -R vod:vod /var/lib/vod
USER vod
WORKDIR /var/lib/vod

CMD ["vod", "worker"]
