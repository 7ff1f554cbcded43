"""S3 origin: a real title published to a real moto_server, checked over real HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import tracemalloc
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import PipelineError
from pipeline.storage.s3 import (
    MULTIPART_THRESHOLD,
    download_file,
    ensure_bucket,
    parse_s3_url,
    s3_client,
    upload_file,
)
from pipeline.storage.s3_publish import IMMUTABLE, SHORT, SUBTITLES, list_keys, publish_title_s3
from pipeline.workflow.title import ingest
from tests.support.common import run_vod
from tests.support.player_harness import PlayerSession
from tests.support.s3_server import s3_env

MEDIA = (".m4s", ".mp4", ".vtt", ".jpg")
ENTRY = ("master.m3u8", "manifest.mpd")
VTT = "WEBVTT\n\n00:00.000 --> 00:01.500\nHello from S3\n"


class Recorder:
    """Every S3 call a client makes, in order: ('start'|'done', operation, key)."""

    def __init__(self, client: Any) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.fail_at: tuple[str, int] | None = None  # (operation, Nth call) raises
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        client.meta.events.register("before-parameter-build.s3", self._start)
        client.meta.events.register("after-call.s3", self._done)

    def _start(self, params: dict, model: Any, **_: Any) -> None:
        with self._lock:
            self.events.append(("start", model.name, params.get("Key", "")))
            n = self._counts[model.name] = self._counts.get(model.name, 0) + 1
            if self.fail_at == (model.name, n):
                raise RuntimeError(f"injected failure on {model.name} #{n}")

    def _done(self, model: Any, context: dict, **_: Any) -> None:
        with self._lock:
            self.events.append(("done", model.name, context.get("input_params", {}).get("Key", "")))

    def ops(self) -> list[str]:
        return [op for phase, op, _ in self.events if phase == "start"]

    def index(self, phase: str, op: str) -> dict[str, int]:
        return {k: i for i, (p, o, k) in enumerate(self.events) if p == phase and o == op}


@pytest.fixture(scope="module")
def title(media_factory: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real packaged title: 2.5 s source, mobile ladder, English WebVTT."""
    work = tmp_path_factory.mktemp("s3title")
    subs = work / "en.vtt"
    subs.write_text(VTT, encoding="utf-8")
    result = ingest(
        media_factory("short"),
        "short",
        work / "origin",
        device_classes=["mobile"],
        subtitles=[(subs, "en")],
    )
    return result.title_dir


@pytest.fixture
def client(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint)


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"vod-{uuid.uuid4().hex[:12]}"
    ensure_bucket(name, public_read=True, client=client)
    return name


def title_files(title_dir: Path) -> dict[str, Path]:
    return {p.relative_to(title_dir).as_posix(): p for p in title_dir.rglob("*") if p.is_file()}


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), b""


# -- publication ----------------------------------------------------------------------------
@pytest.mark.slow
def test_every_object_has_type_and_cache_control(
    title: Path, client: Any, bucket: str, s3_endpoint: str
) -> None:
    keys = publish_title_s3(title, bucket, "vod/titles", "short", client=client)
    files = title_files(title)
    assert sorted(keys) == sorted(f"vod/titles/short/{rel}" for rel in files)
    assert list_keys(client, bucket, "vod/titles/") == set(keys)
    assert any(k.endswith(".m4s") for k in keys) and any(k.endswith(".vtt") for k in keys)
    expected = {
        ".m3u8": ("application/vnd.apple.mpegurl", SHORT),
        ".mpd": ("application/dash+xml", SHORT),
        ".m4s": ("video/iso.segment", IMMUTABLE),
        ".mp4": ("video/mp4", IMMUTABLE),
        ".vtt": ("text/vtt", SUBTITLES),
        ".jpg": ("image/jpeg", IMMUTABLE),
    }
    assert any(k.endswith(".jpg") for k in keys)  # thumbnail tile images
    for rel, path in files.items():
        head = client.head_object(Bucket=bucket, Key=f"vod/titles/short/{rel}")
        assert (head["ContentType"], head["CacheControl"]) == expected[path.suffix], rel
        assert head["ContentLength"] == path.stat().st_size
    # Anonymous HTTP (what a player does) gets the same bytes and headers, with CORS.
    seg = next(rel for rel in files if rel.endswith(".m4s"))
    status, headers, body = http_get(
        f"{s3_endpoint}/{bucket}/vod/titles/short/{seg}", {"Origin": "https://player.example"}
    )
    assert status == 200 and body == files[seg].read_bytes()
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["content-type"] == "video/iso.segment"
    assert lower["cache-control"] == IMMUTABLE
    assert lower["access-control-allow-origin"] in ("*", "https://player.example")


@pytest.mark.slow
def test_media_before_playlists_and_entry_points_last(
    title: Path, client: Any, bucket: str
) -> None:
    rec = Recorder(client)
    keys = publish_title_s3(title, bucket, "p", "short", client=client)
    started, done = rec.index("start", "PutObject"), rec.index("done", "PutObject")
    assert set(started) == set(keys) == set(done)
    media = [k for k in keys if k.endswith(MEDIA)]
    playlists = [k for k in keys if k.endswith((".m3u8", ".mpd"))]
    assert media and len(playlists) > 2
    last_media_done = max(done[k] for k in media)
    # No playlist upload even begins before every media object is stored.
    assert min(started[k] for k in playlists) > last_media_done
    # master.m3u8 then manifest.mpd are the last uploads, after every other playlist is stored.
    by_start = sorted(started, key=started.__getitem__)
    assert by_start[-2:] == ["p/short/master.m3u8", "p/short/manifest.mpd"]
    others = [k for k in playlists if not k.endswith(ENTRY)]
    assert started["p/short/master.m3u8"] > max(done[k] for k in others)
    assert started["p/short/manifest.mpd"] > done["p/short/master.m3u8"]


@pytest.mark.slow
def test_vod_validate_passes_over_http(
    title: Path, client: Any, bucket: str, s3_endpoint: str
) -> None:
    publish_title_s3(title, bucket, "catalog/2024", "short", client=client)
    for manifest in ENTRY:
        url = f"{s3_endpoint}/{bucket}/catalog/2024/short/{manifest}"
        proc = run_vod("validate", url, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["violations"] == []


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("manifest", ENTRY)
def test_shaka_plays_from_the_bucket_cross_origin(
    title: Path, client: Any, bucket: str, s3_endpoint: str, browser: PlayerSession, manifest: str
) -> None:
    publish_title_s3(title, bucket, "p", "short", client=client)
    # The player page is served from another origin: only the bucket's CORS lets it read.
    result = browser.play(f"{s3_endpoint}/{bucket}/p/short/{manifest}", "shaka", min_time=2.0)
    assert result.ok, result.describe()


def _count_puts(title: Path) -> tuple[int, int]:
    files = title_files(title)
    media = sum(1 for rel in files if rel.endswith(MEDIA))
    return media, len(files)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["first", "media", "playlists", "master", "mpd"])
def test_failed_first_publish_leaves_nothing(
    title: Path, client: Any, bucket: str, where: str
) -> None:
    media, total = _count_puts(title)
    nth = {"first": 1, "media": media // 2, "playlists": media + 1, "master": total - 1}
    rec = Recorder(client)
    rec.fail_at = ("PutObject", nth.get(where, total))
    with pytest.raises(PipelineError, match="injected failure"):
        publish_title_s3(title, bucket, "p", "short", client=client)
    assert list_keys(client, bucket, "") == set()
    assert "DeleteObjects" in rec.ops() or where == "first"


@pytest.mark.slow
def test_failed_republish_keeps_the_published_title(
    title: Path, client: Any, bucket: str, tmp_path: Path
) -> None:
    first = publish_title_s3(title, bucket, "p", "short", client=client)
    master_before = client.get_object(Bucket=bucket, Key="p/short/master.m3u8")["Body"].read()
    # The new version has an extra rendition folder the old one lacks, and fails mid-media.
    import shutil

    newer = tmp_path / "short"
    shutil.copytree(title, newer)
    extra = newer / "extra"
    extra.mkdir()
    for i in range(1, 4):
        (extra / f"{i}.m4s").write_bytes(os.urandom(1000))
    (newer / "master.m3u8").write_text("#EXTM3U\n# changed\n", encoding="utf-8")
    rec = Recorder(client)
    rec.fail_at = ("PutObject", 3)
    with pytest.raises(PipelineError, match="injected failure"):
        publish_title_s3(newer, bucket, "p", "short", client=client)
    # Old entry points untouched, new-only objects removed, nothing else deleted.
    assert list_keys(client, bucket, "") == set(first)
    after = client.get_object(Bucket=bucket, Key="p/short/master.m3u8")["Body"].read()
    assert after == master_before


@pytest.mark.slow
def test_republish_removes_objects_the_new_version_lacks(
    title: Path, client: Any, bucket: str, tmp_path: Path
) -> None:
    import shutil

    older = tmp_path / "short"
    shutil.copytree(title, older)
    (older / "gone").mkdir()
    (older / "gone" / "1.m4s").write_bytes(b"old")
    publish_title_s3(older, bucket, "p", "short", client=client)
    keys = publish_title_s3(title, bucket, "p", "short", client=client)
    assert list_keys(client, bucket, "") == set(keys)
    with pytest.raises(PipelineError, match="already published"):
        publish_title_s3(title, bucket, "p", "short", client=client, replace=False)


# -- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url,expected",
    [
        ("s3://media-bucket", ("media-bucket", "")),
        ("s3://media-bucket/", ("media-bucket", "")),
        ("s3://media-bucket/vod/titles/", ("media-bucket", "vod/titles")),
        ("s3://my.bucket-1/a/b c", ("my.bucket-1", "a/b c")),
    ],
)
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(
    "url,message",
    [
        ("s3://media-bucket/../x", "'..'"),
        ("s3://media-bucket/a/../../etc", "'..'"),
        ("s3://media-bucket/a//b", "'//'"),
        ("s3://media-bucket//abs", "start with '/'"),
        ("s3://media-bucket/a\nb", "control characters"),
        ("s3://media-bucket/a\x00b", "control characters"),
        ("s3://media-bucket/a\\..\\b", "'\\\\'"),
        ("s3://media-bucket/./a", "'.'"),
        ("s3://Bad_Bucket/a", "invalid bucket name"),
        ("s3://ab/a", "invalid bucket name"),
        ("s3://192.168.1.1/a", "invalid bucket name"),
        ("s3://user:pw@media-bucket/a", "credentials"),
        ("s3://media-bucket:9000/a", "ports"),
        ("https://media-bucket/a", "not an s3:// URL"),
    ],
)
def test_hostile_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        parse_s3_url(url)


@pytest.mark.parametrize(
    "prefix,title_id,message",
    [
        ("../x", "short", "'..'"),
        ("a//b", "short", "'//'"),
        ("/abs", "short", "start with '/'"),
        ("ok", "../x", "invalid title id"),
        ("ok", "a/b", "invalid title id"),
        ("ok", "/abs", "invalid title id"),
        ("ok\r\n", "short", "control characters"),
    ],
)
def test_hostile_prefix_or_title_id_refused_before_any_request(
    tmp_path: Path, client: Any, prefix: str, title_id: str, message: str
) -> None:
    (tmp_path / "master.m3u8").write_text("#EXTM3U\n", encoding="utf-8")
    rec = Recorder(client)
    with pytest.raises(PipelineError, match=message):
        publish_title_s3(tmp_path, "media-bucket", prefix, title_id, client=client)
    assert rec.events == []


def test_missing_bucket_is_a_clear_error(tmp_path: Path, client: Any) -> None:
    (tmp_path / "master.m3u8").write_text("#EXTM3U\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="NoSuchBucket"):
        publish_title_s3(tmp_path, "no-such-bucket-here", "p", "t", client=client)
    with pytest.raises(PipelineError, match="NoSuchBucket"):
        download_file("s3://no-such-bucket-here/a.mp4", tmp_path, client=client)
    with pytest.raises(PipelineError, match="cannot upload"):
        upload_file(tmp_path / "master.m3u8", "s3://no-such-bucket-here/a.m3u8", client=client)
    with pytest.raises(PipelineError, match="empty key"):
        download_file("s3://no-such-bucket-here/", tmp_path, client=client)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.m3u8"]


def test_cli_checks_the_bucket_before_encoding(s3_endpoint: str, sample_mov: Path) -> None:
    proc = run_vod(
        "ingest",
        str(sample_mov),
        "--title-id",
        "t",
        "--origin",
        "s3://no-such-bucket/p",
        env=s3_env(s3_endpoint),
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == "error: [s3] s3://no-such-bucket: cannot use bucket: 404 Not Found\n"


def test_cli_refuses_hostile_origin_before_encoding(s3_endpoint: str, sample_mov: Path) -> None:
    proc = run_vod(
        "ingest",
        str(sample_mov),
        "--title-id",
        "t",
        "--origin",
        "s3://media-bucket/../x",
        env=s3_env(s3_endpoint),
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == "error: [s3] prefix '../x' must not contain '.' or '..' segments\n"


# -- end to end -----------------------------------------------------------------------------
@pytest.mark.slow
def test_vod_ingest_to_s3_end_to_end(
    media_factory: Callable[..., Path], client: Any, bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**s3_env(s3_endpoint), "TMPDIR": str(scratch)}
    proc = run_vod(
        "ingest",
        str(media_factory("short")),
        "--title-id",
        "clip",
        "--origin",
        f"s3://{bucket}/pfx",
        "--device-class",
        "mobile",
        "--json",
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["hls"] == f"s3://{bucket}/pfx/clip/master.m3u8"
    assert summary["dash"] == f"s3://{bucket}/pfx/clip/manifest.mpd"
    assert summary["hls_url"] == f"{s3_endpoint}/{bucket}/pfx/clip/master.m3u8"
    assert "upload" in summary["timings"]
    assert summary["objects"] == len(list_keys(client, bucket, "pfx/clip/"))
    assert list(scratch.iterdir()) == []  # the local build is gone
    validated = run_vod("validate", summary["dash_url"], "--json")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    validated = run_vod("validate", summary["hls_url"], "--json")
    assert validated.returncode == 0, validated.stdout + validated.stderr


# -- large files ----------------------------------------------------------------------------
def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size // (1 << 20)):
            block = os.urandom(1 << 20)
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture
def traced() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_file_multipart_round_trip_in_bounded_memory(
    tmp_path: Path, client: Any, bucket: str, traced: Callable[[], int]
) -> None:
    size = 40 * (1 << 20)
    assert size > 4 * MULTIPART_THRESHOLD
    src = tmp_path / "big.mp4"
    digest = _write_random(src, size)
    rec = Recorder(client)
    tracemalloc.reset_peak()
    key = upload_file(src, f"s3://{bucket}/big/file.mp4", client=client, content_type="video/mp4")
    back = download_file(f"s3://{bucket}/{key}", tmp_path / "back", client=client)
    peak = traced()
    ops = rec.ops()
    assert "CreateMultipartUpload" in ops and "CompleteMultipartUpload" in ops
    assert ops.count("UploadPart") == size // MULTIPART_THRESHOLD
    assert "PutObject" not in ops
    assert ops.count("GetObject") >= 2  # ranged, parallel parts
    assert back == tmp_path / "back"
    assert back.stat().st_size == size and _sha256(back) == digest
    assert client.head_object(Bucket=bucket, Key=key)["ContentType"] == "video/mp4"
    # Never the whole file in memory: at most a few chunks in flight.
    assert peak < 2 * MULTIPART_THRESHOLD, f"peak {peak / 2**20:.1f} MiB for {size >> 20} MiB"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("back.")]  # no temp left


def test_download_of_missing_object_is_a_clear_error(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    with pytest.raises(PipelineError, match="cannot download"):
        download_file(f"s3://{bucket}/nothing/here.mp4", tmp_path / "x.mp4", client=client)
    assert list(tmp_path.iterdir()) == []


def test_ensure_bucket_cors_lets_browsers_read(client: Any, s3_endpoint: str) -> None:
    name = f"vod-{uuid.uuid4().hex[:12]}"
    ensure_bucket(name, public_read=True, client=client)
    ensure_bucket(name, public_read=True, client=client)  # idempotent
    client.put_object(Bucket=name, Key="t/master.m3u8", Body=b"#EXTM3U\n")
    rules = client.get_bucket_cors(Bucket=name)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["*"]
    assert set(rules[0]["AllowedMethods"]) == {"GET", "HEAD"}
    # Players fetch with simple GETs (no preflight). (moto, unlike S3, also applies the bucket
    # policy to OPTIONS requests on objects, so a preflight is not checked here.)
    status, headers, body = http_get(
        f"{s3_endpoint}/{name}/t/master.m3u8", {"Origin": "https://player.example"}
    )
    assert (status, body) == (200, b"#EXTM3U\n")
    assert headers["Access-Control-Allow-Origin"] in ("*", "https://player.example")
    assert "Content-Length" in headers["Access-Control-Expose-Headers"]
    # Without the CORS rules a browser gets no Access-Control-Allow-Origin (moto runs with its
    # global CORS off, as S3 behaves), and without public_read anonymous readers get 403.
    plain = f"vod-{uuid.uuid4().hex[:12]}"
    ensure_bucket(plain, cors=False, public_read=True, client=client)
    client.put_object(Bucket=plain, Key="t/master.m3u8", Body=b"#EXTM3U\n")
    status, headers, _ = http_get(
        f"{s3_endpoint}/{plain}/t/master.m3u8", {"Origin": "https://player.example"}
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    private = f"vod-{uuid.uuid4().hex[:12]}"
    ensure_bucket(private, client=client)
    client.put_object(Bucket=private, Key="t/master.m3u8", Body=b"#EXTM3U\n")
    assert http_get(f"{s3_endpoint}/{private}/t/master.m3u8")[0] == 403
