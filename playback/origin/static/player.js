// Watch page for `vod serve`, also the page the end-to-end player harness drives.
// All state comes from the query string so a URL reproduces a playback exactly:
//   ?title=ID | src=URL, player=shaka|hls.js|dash.js, manifest=hls|dash, autoplay=1,
//   clearkeys=KIDHEX:KEYHEX,..., licenseUrl=URL, retries=N,
//   shaka only: cmcd=REPORT_URL (CMCD v2 event reports), sid=SESSION, cid=CONTENT,
//   cmcdInterval=S, cmcdHeaders=1 (request-mode CMCD in headers, not query args),
//   heartbeat=URL, heartbeatEvery=S (POSTed while the page plays; playback sessions)
// window.vodStatus is what tests read: {currentTime, error, ended, variants, ...}.
// The seek bar under the video, with scrubbing-thumbnail previews, is seekbar.js
// (window.vodThumbnailAt(t) for tests).
(function () {
  'use strict';

  const LIBS = {
    shaka: '/_player/lib/shaka-player.compiled.js',
    'hls.js': '/_player/lib/hls.min.js',
    'dash.js': '/_player/lib/dash.all.min.js',
  };
  // shaka-player 5.2's minified build loses the CMCD play state (`sta`) to property renaming;
  // its unminified build reports it, so CMCD sessions use that one.
  const SHAKA_CMCD_BUILD = '/_player/lib/shaka-player.debug.js';
  const ALIASES = {
    shaka: 'shaka', 'shaka-player': 'shaka', hls: 'hls.js', 'hls.js': 'hls.js', hlsjs: 'hls.js',
    dash: 'dash.js', 'dash.js': 'dash.js', dashjs: 'dash.js',
  };

  const params = new URLSearchParams(location.search);
  const video = document.getElementById('video');
  const statusEl = document.getElementById('status');
  const banner = document.getElementById('banner');

  const status = {
    state: 'idle', player: null, manifestUrl: null, currentTime: 0, duration: null,
    ended: false, error: null, warnings: [], variants: [],
  };
  window.vodStatus = status;

  function render() {
    status.currentTime = video.currentTime;
    status.duration = Number.isFinite(video.duration) ? video.duration : null;
    const lines = [
      `state: ${status.state}  player: ${status.player || '-'}`,
      `manifest: ${status.manifestUrl || '-'}`,
      `time: ${status.currentTime.toFixed(2)} / ${status.duration === null ? '?' : status.duration.toFixed(2)}`,
      `variants: ${status.variants.map((v) => `${v.height || '?'}p@${Math.round((v.bandwidth || 0) / 1000)}k`).join(' ') || '-'}`,
    ];
    if (status.error) lines.push(`ERROR: ${status.error}`);
    statusEl.textContent = lines.join('\n');
  }

  function fail(message) {
    if (!status.error) status.error = String(message);
    status.state = 'error';
    render();
  }

  function warn(message) {
    if (status.warnings.length < 50) status.warnings.push(String(message));
  }

  function showBanner(html) {
    banner.innerHTML = html;
    banner.classList.remove('hidden');
  }

  function hexToB64url(hex) {
    const clean = hex.replace(/-/g, '');
    let bin = '';
    for (let i = 0; i < clean.length; i += 2) bin += String.fromCharCode(parseInt(clean.substr(i, 2), 16));
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function parseClearKeys(text) {
    const keys = {};
    for (const pair of (text || '').split(',').filter(Boolean)) {
      const [kid, key] = pair.split(':');
      if (kid && key) keys[kid.replace(/-/g, '').toLowerCase()] = key.toLowerCase();
    }
    return keys;
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const el = document.createElement('script');
      el.src = src;
      el.onload = resolve;
      el.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.appendChild(el);
    });
  }

  function safeJson(value) {
    try {
      const text = JSON.stringify(value);
      return text && text.length > 400 ? text.slice(0, 400) + '...' : text;
    } catch (e) {
      return String(value);
    }
  }

  // ---- shaka-player -------------------------------------------------------
  function shakaErrorText(err) {
    const Code = shaka.util.Error.Code || {};
    const name = Object.keys(Code).find((k) => Code[k] === err.code) || 'UNKNOWN';
    return `shaka error ${err.code} ${name} (category ${err.category}, severity ${err.severity}) ` +
      `data=${safeJson(err.data)}`;
  }

  // CMCD (CTA-5004): request mode on every media request, plus v2 event reports
  // (play states, errors, periodic samples) POSTed to the QoE collector.
  function cmcdConfig(opts) {
    const targets = opts.cmcdUrl ? [{
      mode: 'event', enabled: true, useHeaders: false, url: opts.cmcdUrl, includeKeys: [],
      events: ['ps', 'e', 't', 'bc'], interval: opts.cmcdInterval, batchSize: 1,
    }] : [];
    return {
      enabled: true, version: 2, useHeaders: opts.cmcdHeaders, sessionId: opts.sid || '',
      contentId: opts.cid || '', includeKeys: [], eventTargets: targets,
    };
  }

  async function playShaka(url, opts) {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) throw new Error('shaka: browser not supported');
    const player = new shaka.Player();
    await player.attach(video);
    window.vodPlayer = player;
    const config = {};
    if (opts.retries !== null) {
      const retry = { maxAttempts: opts.retries + 1, baseDelay: 200, backoffFactor: 1, fuzzFactor: 0 };
      config.streaming = { retryParameters: retry };
      config.manifest = { retryParameters: retry };
    }
    const drm = {};
    if (Object.keys(opts.clearKeys).length) drm.clearKeys = opts.clearKeys;
    if (opts.licenseUrl) drm.servers = { 'org.w3.clearkey': opts.licenseUrl };
    if (Object.keys(drm).length) config.drm = drm;
    if (opts.cmcdUrl || opts.sid) config.cmcd = cmcdConfig(opts);
    player.configure(config);
    const onError = (err) => {
      if (err.severity === shaka.util.Error.Severity.CRITICAL) fail(shakaErrorText(err));
      else warn(shakaErrorText(err));
    };
    player.addEventListener('error', (ev) => onError(ev.detail));
    const listVariants = () => {
      status.variants = player.getVariantTracks().map((t) => ({
        bandwidth: t.bandwidth, width: t.width, height: t.height, codecs: t.codecs,
        language: t.language, active: t.active, channels: t.channelsCount,
      }));
    };
    player.addEventListener('variantchanged', listVariants);
    player.addEventListener('adaptation', listVariants);
    try {
      await player.load(url);
    } catch (err) {
      if (err && err.code !== undefined) onError(err); else fail(err);
      return;
    }
    listVariants();
    VodSeekbar.use(VodSeekbar.shaka(player));
  }

  // ---- hls.js ---------------------------------------------------------------
  function hlsPolicy(retries) {
    const retry = { maxNumRetry: retries, retryDelayMs: 200, maxRetryDelayMs: 1000 };
    return {
      default: {
        maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 30000,
        timeoutRetry: retry, errorRetry: retry,
      },
    };
  }

  function hlsErrorText(data) {
    const parts = [`hls.js ${data.type}/${data.details}${data.fatal ? ' (fatal)' : ''}`];
    if (data.response && data.response.code) parts.push(`HTTP ${data.response.code}`);
    const url = (data.frag && data.frag.url) || data.url || (data.context && data.context.url);
    if (url) parts.push(url);
    if (data.reason) parts.push(data.reason);
    if (data.error && data.error.message) parts.push(data.error.message);
    return parts.join(': ');
  }

  async function playHlsJs(url, opts) {
    if (!Hls.isSupported()) throw new Error('hls.js: MediaSource not supported');
    const config = {};
    if (opts.retries !== null) {
      for (const key of ['fragLoadPolicy', 'playlistLoadPolicy', 'manifestLoadPolicy',
        'keyLoadPolicy', 'steeringManifestLoadPolicy']) config[key] = hlsPolicy(opts.retries);
    }
    const kids = Object.keys(opts.clearKeys);
    if (opts.licenseUrl || kids.length) {
      // hls.js has no inline clear keys: vod serve answers licence requests from the keys.
      const pairs = kids.map((k) => `${k}:${opts.clearKeys[k]}`).join(',');
      const licenseUrl = opts.licenseUrl ||
        new URL(`/_clearkey?keys=${encodeURIComponent(pairs)}`, location.href).href;
      config.emeEnabled = true;
      config.drmSystems = { 'org.w3.clearkey': { licenseUrl } };
    }
    const hls = new Hls(config);
    window.vodPlayer = hls;
    hls.on(Hls.Events.ERROR, (event, data) => {
      if (data.fatal) fail(hlsErrorText(data)); else warn(hlsErrorText(data));
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (event, data) => {
      status.variants = data.levels.map((l) => ({
        bandwidth: l.bitrate, width: l.width, height: l.height,
        codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(','),
      }));
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  // ---- dash.js --------------------------------------------------------------
  async function playDashJs(url, opts) {
    const player = dashjs.MediaPlayer().create();
    window.vodPlayer = player;
    const settings = { debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } };
    if (opts.retries !== null) {
      const kinds = ['MPD', 'XLinkExpansion', 'MediaSegment', 'InitializationSegment',
        'BitstreamSwitchingSegment', 'IndexSegment', 'FragmentInfoSegment', 'license', 'other'];
      const attempts = {};
      const intervals = {};
      for (const k of kinds) { attempts[k] = opts.retries; intervals[k] = 200; }
      settings.streaming = { retryAttempts: attempts, retryIntervals: intervals };
    }
    player.updateSettings(settings);
    const protection = {};
    const kids = Object.keys(opts.clearKeys);
    if (kids.length) {
      const clearkeys = {};
      for (const kid of kids) clearkeys[hexToB64url(kid)] = hexToB64url(opts.clearKeys[kid]);
      protection.clearkeys = clearkeys;
    }
    if (opts.licenseUrl) protection.serverURL = opts.licenseUrl;
    if (Object.keys(protection).length) player.setProtectionData({ 'org.w3.clearkey': protection });
    const events = dashjs.MediaPlayer.events;
    player.on(events.ERROR, (e) => {
      const err = e.error || {};
      fail(`dash.js error ${err.code}: ${err.message || ''} ${safeJson(err.data) || ''}`.trim());
    });
    player.on(events.PLAYBACK_ERROR, (e) => fail(`dash.js playback error: ${safeJson(e.error)}`));
    player.on(events.STREAM_INITIALIZED, () => {
      status.variants = player.getRepresentationsByType('video').map((r) => ({
        bandwidth: r.bandwidth, width: r.width, height: r.height, codecs: r.codecs,
      }));
    });
    player.initialize(video, url, opts.autoplay);
  }

  // Playback sessions hold a concurrent-stream slot only while they heartbeat.
  function startHeartbeat(opts) {
    status.heartbeats = 0;
    const beat = () => fetch(opts.heartbeatUrl, { method: 'POST' })
      .then((r) => {
        if (r.ok) status.heartbeats += 1;
        else warn(`heartbeat refused: HTTP ${r.status}`);
      })
      .catch((e) => warn(`heartbeat failed: ${e.message}`));
    beat();
    setInterval(() => { if (!status.ended && !status.error) beat(); }, opts.heartbeatEvery * 1000);
  }

  const PLAYERS = { shaka: playShaka, 'hls.js': playHlsJs, 'dash.js': playDashJs };

  // ---- page -----------------------------------------------------------------
  function watchLink(id, player, manifest) {
    const q = new URLSearchParams({ title: id, player, manifest, autoplay: '1' });
    return `<a href="/?${q}">${player} ${manifest.toUpperCase()}</a>`;
  }

  function listTitles(titles) {
    const select = document.getElementById('title');
    const body = document.querySelector('#titles tbody');
    for (const t of titles) {
      select.add(new Option(t.id, t.id));
      const links = [];
      if (t.hls) links.push(watchLink(t.id, 'shaka', 'hls'), watchLink(t.id, 'hls.js', 'hls'));
      if (t.dash) links.push(watchLink(t.id, 'shaka', 'dash'), watchLink(t.id, 'dash.js', 'dash'));
      const row = body.insertRow();
      row.insertCell().textContent = t.id;
      row.insertCell().innerHTML = links.join(' · ');
    }
    if (!titles.length) {
      body.insertRow().insertCell().textContent =
        'No titles yet: package one with `vod ingest ... --origin DIR`, then `vod serve DIR`.';
    }
  }

  function options(player) {
    const retries = params.get('retries');
    return {
      autoplay: params.get('autoplay') === '1' || params.get('autoplay') === 'true',
      clearKeys: parseClearKeys(params.get('clearkeys')),
      licenseUrl: params.get('licenseUrl') || params.get('licenseurl') || null,
      retries: retries === null || retries === '' ? null : Math.max(0, parseInt(retries, 10) || 0),
      cmcdUrl: params.get('cmcd') || null,
      cmcdInterval: Math.max(1, parseInt(params.get('cmcdInterval') || '10', 10) || 10),
      cmcdHeaders: params.get('cmcdHeaders') === '1',
      sid: params.get('sid') || null,
      cid: params.get('cid') || null,
      heartbeatUrl: params.get('heartbeat') || null,
      heartbeatEvery: Math.max(1, parseFloat(params.get('heartbeatEvery') || '20') || 20),
      player,
    };
  }

  async function resolveManifest(titles, player) {
    const src = params.get('src');
    if (src) return new URL(src, location.href).href;
    const id = params.get('title');
    const title = titles.find((t) => t.id === id);
    if (!title) throw new Error(`unknown title ${JSON.stringify(id)}`);
    let kind = params.get('manifest');
    if (!kind) kind = player === 'dash.js' ? 'dash' : (player === 'hls.js' ? 'hls' : (title.hls ? 'hls' : 'dash'));
    const path = kind === 'dash' ? title.dash : title.hls;
    if (!path) throw new Error(`title ${id} has no ${kind.toUpperCase()} manifest`);
    return new URL(path, location.href).href;
  }

  async function start(titles) {
    const player = ALIASES[params.get('player') || 'shaka'];
    if (!player) throw new Error(`unknown player ${JSON.stringify(params.get('player'))}`);
    document.getElementById('player').value = player;
    if (params.get('title')) document.getElementById('title').value = params.get('title');
    if (params.get('manifest')) document.getElementById('manifest').value = params.get('manifest');
    const url = await resolveManifest(titles, player);
    const kind = params.get('manifest');
    const isDash = kind ? kind === 'dash' : /\.mpd(\?|#|$)/i.test(url);
    if (player === 'hls.js' && isDash) throw new Error('hls.js plays HLS only: pick shaka or dash.js');
    if (player === 'dash.js' && !isDash) throw new Error('dash.js plays DASH only: pick shaka or hls.js');
    document.getElementById('manifest').value = isDash ? 'dash' : 'hls';
    status.player = player;
    status.manifestUrl = url;
    status.state = 'loading';
    render();
    const cmcdWanted = player === 'shaka' && (params.get('cmcd') || params.get('sid'));
    try {
      await loadScript(cmcdWanted ? SHAKA_CMCD_BUILD : LIBS[player]);
    } catch (err) {
      showBanner('Player libraries are missing. Run <code>scripts/setup.sh</code> ' +
        '(it installs shaka-player, hls.js and dash.js into web/node_modules).');
      throw new Error(`${player} library missing (${LIBS[player]}): run scripts/setup.sh`);
    }
    const opts = options(player);
    if (opts.heartbeatUrl) startHeartbeat(opts);
    await PLAYERS[player](url, opts);
    if (status.error) return;
    if (player !== 'shaka') VodSeekbar.use(VodSeekbar.storyboard(url));
    status.state = 'loaded';
    if (opts.autoplay) {
      video.play().catch((err) => warn(`play() refused: ${err.message}`));
    }
  }

  video.muted = true;
  video.addEventListener('timeupdate', render);
  VodSeekbar.attach(video, warn); // the seek bar and its thumbnail previews (seekbar.js)
  video.addEventListener('playing', () => { if (!status.error) status.state = 'playing'; render(); });
  video.addEventListener('ended', () => { status.ended = true; status.state = 'ended'; render(); });
  video.addEventListener('error', () => {
    const e = video.error;
    fail(`media element error ${e ? e.code : '?'}: ${e && e.message ? e.message : 'no detail'}`);
  });
  setInterval(render, 250);

  document.getElementById('chooser').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({
      title: document.getElementById('title').value,
      player: document.getElementById('player').value,
      manifest: document.getElementById('manifest').value,
      autoplay: '1',
    });
    location.search = q.toString();
  });

  fetch('/_titles')
    .then((r) => (r.ok ? r.json() : []))
    .catch(() => [])
    .then((titles) => {
      listTitles(titles);
      if (params.get('title') || params.get('src')) {
        return start(titles).catch((err) => fail(err && err.message ? err.message : err));
      }
      render();
      return null;
    });
})();
