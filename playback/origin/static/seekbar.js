// Seek bar with scrubbing-thumbnail previews for the watch page (player.js loads it first).
// Thumbnails come from shaka-player's image tracks (HLS EXT-X-IMAGE-STREAM-INF, DASH image
// AdaptationSets) or, for hls.js and dash.js, from the title's WebVTT storyboard
// (thumbnails.vtt beside the manifest). window.vodThumbnailAt(t) resolves to the thumbnail
// shown for time t, {uri, x, y, width, height, startTime}, or null (none, or nothing loaded).
// API: VodSeekbar.attach(video, warn) once; VodSeekbar.use(VodSeekbar.shaka(player)) or
// VodSeekbar.use(VodSeekbar.storyboard(manifestUrl)) once a player has loaded.
(function () {
  'use strict';

  // ---- scrubbing thumbnails -------------------------------------------------
  const STORYBOARD = 'thumbnails.vtt';
  // A pointer on a cue boundary lands a hair before it in floating point (shaka-player allows
  // the same 1e-4 s when it places a time in a tile).
  const EPSILON = 1e-4;
  let thumbnailSource = null; // async (t) => thumbnail | null, once a player has loaded
  let warn = () => {};
  let video = null;

  function shakaThumbnails(player) {
    const tracks = player.getImageTracks();
    if (!tracks.length) return null;
    // The smallest size: a preview is a few hundred pixels wide whatever the screen.
    const track = tracks.reduce((a, b) => ((b.width || 0) < (a.width || 0) ? b : a));
    return async (t) => {
      const th = await player.getThumbnails(track.id, t);
      if (!th || !th.uris || !th.uris.length) return null;
      return {
        uri: th.uris[0], x: th.positionX, y: th.positionY, width: th.width, height: th.height,
        startTime: th.startTime,
      };
    };
  }

  function vttSeconds(text) {
    const m = /^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$/.exec(text.trim());
    return m ? (parseInt(m[1] || '0', 10) * 3600) + (parseInt(m[2], 10) * 60) + parseFloat(m[3]) : null;
  }

  // WebVTT storyboard: cues whose text is an image URI, with `#xywh=x,y,w,h` for a place in a
  // tile image (W3C media fragment); URIs relative to the .vtt, which carries `query` on.
  function parseStoryboard(text, vttUrl, query) {
    const cues = [];
    for (const block of text.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
      const lines = block.split('\n').filter((l) => l.trim());
      const at = lines.findIndex((l) => l.includes('-->'));
      if (at < 0 || !lines[at + 1]) continue;
      const [from, to] = lines[at].split('-->');
      const start = vttSeconds(from);
      const end = vttSeconds(to.trim().split(/\s+/)[0]);
      if (start === null || end === null || end <= start) continue;
      const [path, fragment] = lines[at + 1].trim().split('#');
      const url = new URL(path, vttUrl);
      if (query && !url.search) url.search = query;
      const xywh = /(?:^|&)xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)/.exec(fragment || '');
      cues.push({
        start, end, uri: url.href,
        x: xywh ? +xywh[1] : 0, y: xywh ? +xywh[2] : 0,
        width: xywh ? +xywh[3] : null, height: xywh ? +xywh[4] : null,
      });
    }
    return cues.sort((a, b) => a.start - b.start);
  }

  function storyboardThumbnails(manifestUrl) {
    const manifest = new URL(manifestUrl);
    const vtt = new URL(STORYBOARD, manifest);
    vtt.search = manifest.search; // session URLs carry their token in the query
    let loading = null;
    const load = () => {
      loading = loading || fetch(vtt.href)
        .then((r) => (r.ok ? r.text() : ''))
        .then((text) => (text.startsWith('WEBVTT') ? parseStoryboard(text, vtt.href, manifest.search) : []))
        .catch((e) => { warn(`storyboard ${vtt.href}: ${e.message}`); return []; });
      return loading;
    };
    return async (t) => {
      const cues = await load();
      // The last cue starting at or before t (binary search); the final cue also answers for
      // the few milliseconds of a title past the last picture.
      let lo = 0;
      let hi = cues.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (cues[mid].start <= t + EPSILON) { found = mid; lo = mid + 1; } else hi = mid - 1;
      }
      if (found < 0) return null;
      const cue = cues[found];
      if (t >= cue.end && found < cues.length - 1) return null;
      return {
        uri: cue.uri, x: cue.x, y: cue.y, width: cue.width, height: cue.height, startTime: cue.start,
      };
    };
  }

  window.vodThumbnailAt = async (t) => {
    if (!thumbnailSource || !Number.isFinite(t)) return null;
    try {
      return await thumbnailSource(t);
    } catch (e) {
      warn(`thumbnail at ${t}: ${e && e.message ? e.message : e}`);
      return null;
    }
  };

  // ---- seek bar -------------------------------------------------------------
  function attach(videoElement, warnFn) {
    video = videoElement;
    warn = warnFn;
    const seekbar = document.getElementById('seekbar');
    const seekFill = document.getElementById('seek-fill');
    const seekHead = document.getElementById('seek-head');
    const seekTime = document.getElementById('seek-time');
    const preview = document.getElementById('thumb-preview');
    const previewImage = document.getElementById('thumb-image');
    const previewTime = document.getElementById('thumb-time');
    let dragging = false;
    let hoverSeq = 0;

    function clock(seconds) {
      if (!Number.isFinite(seconds)) return '-:--';
      const s = Math.max(0, Math.floor(seconds + 1e-3)); // 5.9999995 is 0:06 to a viewer
      const h = Math.floor(s / 3600);
      const mm = String(Math.floor(s / 60) % 60);
      const ss = String(s % 60).padStart(2, '0');
      return h ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
    }

    function mediaDuration() {
      return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : null;
    }

    function renderSeekbar() {
      const duration = mediaDuration();
      const fraction = duration ? Math.min(1, video.currentTime / duration) : 0;
      seekFill.style.width = `${fraction * 100}%`;
      seekHead.style.left = `${fraction * 100}%`;
      seekTime.textContent = `${clock(video.currentTime)} / ${clock(duration)}`;
      seekbar.setAttribute('aria-valuemax', duration ? duration.toFixed(2) : '0');
      seekbar.setAttribute('aria-valuenow', video.currentTime.toFixed(2));
    }

    // (time under the pointer, pointer x in the bar) or null before the duration is known.
    function pointerTime(ev) {
      const duration = mediaDuration();
      if (!duration) return null;
      const box = seekbar.getBoundingClientRect();
      const x = Math.min(Math.max(ev.clientX - box.left, 0), box.width);
      return { time: box.width ? (x / box.width) * duration : 0, x };
    }

    function seekTo(t) {
      video.currentTime = t;
      renderSeekbar();
    }

    async function showPreview(ev) {
      const at = pointerTime(ev);
      if (!at) return;
      const seq = ++hoverSeq;
      previewTime.textContent = clock(at.time);
      preview.dataset.time = String(at.time);
      const th = await window.vodThumbnailAt(at.time);
      if (seq !== hoverSeq) return; // a later move (or leaving the bar) won
      if (th) {
        const width = th.width || 160;
        const height = th.height || 90;
        previewImage.style.width = `${width}px`;
        previewImage.style.height = `${height}px`;
        previewImage.style.backgroundImage = `url("${th.uri.replace(/"/g, '%22')}")`;
        previewImage.style.backgroundPosition = `${-th.x}px ${-th.y}px`;
        previewImage.style.backgroundSize = th.width ? '' : 'contain';
        previewImage.classList.remove('hidden');
      } else {
        previewImage.classList.add('hidden');
      }
      preview.classList.remove('hidden');
      const barLeft = seekbar.offsetLeft;
      const half = preview.offsetWidth / 2;
      const room = seekbar.parentElement.clientWidth - preview.offsetWidth;
      preview.style.left = `${Math.max(0, Math.min(room, barLeft + at.x - half))}px`;
    }

    function hidePreview() {
      hoverSeq += 1;
      preview.classList.add('hidden');
    }

    seekbar.addEventListener('pointerdown', (ev) => {
      const at = pointerTime(ev);
      if (!at || ev.button !== 0) return;
      dragging = true;
      seekbar.setPointerCapture(ev.pointerId);
      seekTo(at.time);
    });
    seekbar.addEventListener('pointermove', (ev) => {
      if (dragging) {
        const at = pointerTime(ev);
        if (at) seekTo(at.time);
      }
      showPreview(ev);
    });
    const endDrag = (ev) => {
      dragging = false;
      if (seekbar.hasPointerCapture(ev.pointerId)) seekbar.releasePointerCapture(ev.pointerId);
      const box = seekbar.getBoundingClientRect();
      const inside = ev.clientX >= box.left && ev.clientX <= box.right &&
        ev.clientY >= box.top && ev.clientY <= box.bottom;
      if (!inside) hidePreview();
    };
    seekbar.addEventListener('pointerup', endDrag);
    seekbar.addEventListener('pointercancel', endDrag);
    seekbar.addEventListener('pointerleave', () => { if (!dragging) hidePreview(); });
    for (const name of ['timeupdate', 'durationchange', 'seeking', 'loadedmetadata']) {
      video.addEventListener(name, renderSeekbar);
    }
    seekbar.addEventListener('keydown', (ev) => {
      const duration = mediaDuration();
      const step = { ArrowLeft: -5, ArrowRight: 5, PageDown: -30, PageUp: 30 }[ev.key];
      if (!duration || step === undefined) return;
      ev.preventDefault();
      seekTo(Math.min(duration, Math.max(0, video.currentTime + step)));
    });
  }

  window.VodSeekbar = {
    attach,
    shaka: shakaThumbnails,
    storyboard: storyboardThumbnails,
    use(source) { thumbnailSource = source; },
  };
}());
