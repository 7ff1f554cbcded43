#!/usr/bin/env bash
# Install what vod-pipeline needs on a Debian machine: FFmpeg, Chromium (for the
# player tests and watch page), a Python >= 3.11 venv with the package, and the
# npm players + Shaka Packager in web/node_modules. Safe to re-run: each step is
# skipped when already done, so a second run takes a few seconds.
#
# Usage: scripts/setup.sh [--no-browser]
#   --no-browser  skip Chromium and the npm packages (enough for packaging only;
#                 the watch page and the e2e tests need them).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

WITH_BROWSER=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) WITH_BROWSER=0 ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

say() { printf '[setup] %s\n' "$*"; }
die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}
# Run a noisy command with its output kept aside, shown only when it fails.
quietly() {
  local log
  log="$(mktemp)"
  if ! "$@" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    rm -f "$log"
    die "failed: $*"
  fi
  rm -f "$log"
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else SUDO=(false); fi
fi

# ---- 1. Debian packages -------------------------------------------------------
apt_get() { quietly "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null; }
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_packages=(ffmpeg)
if [ "$WITH_BROWSER" = 1 ]; then
  apt_packages+=(chromium fonts-liberation)
  # Node may come from elsewhere (NodeSource bundles npm); only add Debian's when absent.
  command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
fi

# The catalogue tests run on PostgreSQL and the workers on Redis: install them only when absent
# (a machine may already run them from other packages).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)

missing=()
for pkg in "${apt_packages[@]}"; do is_installed "$pkg" || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "need ${missing[*]} but apt-get is missing (Debian/Ubuntu only)"
  [ "${SUDO[0]:-}" = false ] && die "need root or sudo to install: ${missing[*]}"
  say "apt: installing ${missing[*]}"
  apt_get update
  apt_get install -y "${missing[@]}"
else
  say "apt: ${apt_packages[*]} already installed"
fi
command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg not on PATH after install"

# ---- 2. Python venv -----------------------------------------------------------
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

VENV="$REPO/.venv"
if [ -x "$VENV/bin/python" ] && ! python_ok "$VENV/bin/python"; then
  say "venv: $VENV has Python < 3.11, recreating"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)" || die "Python >= 3.11 is required (found: $(python3 --version 2>&1 || echo none)); set PYTHON=/path/to/python3.11"
  say "venv: creating .venv with $PY ($("$PY" --version 2>&1))"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    if [ "$PY" = /usr/bin/python3 ] && [ "${SUDO[0]:-}" != false ]; then
      say "venv: installing python3-venv"
      apt_get install -y python3-venv
      "$PY" -m venv "$VENV"
    else
      die "$PY cannot create a venv (install its venv module)"
    fi
  fi
fi

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
py_stamp="$(stamp_of pyproject.toml)"
if [ -x "$VENV/bin/vod" ] && [ "$(cat "$VENV/.setup-stamp" 2>/dev/null)" = "$py_stamp" ] &&
  "$VENV/bin/python" -c 'import vod, pytest, playwright' >/dev/null 2>&1; then
  say "python: .venv up to date ($("$VENV/bin/python" --version 2>&1))"
else
  say "python: pip install -e '.[test]' (first run takes a minute)"
  quietly "$VENV/bin/python" -m pip install --disable-pip-version-check -e '.[test]'
  echo "$py_stamp" >"$VENV/.setup-stamp"
fi

# ---- 3. npm players and Shaka Packager -----------------------------------------
if [ "$WITH_BROWSER" = 1 ]; then
  command -v /usr/bin/chromium >/dev/null 2>&1 || die "/usr/bin/chromium missing after install"
  npm_stamp="$(stamp_of web/package.json web/package-lock.json)"
  required=(
    web/node_modules/shaka-player/dist/shaka-player.compiled.js
    web/node_modules/hls.js/dist/hls.min.js
    web/node_modules/dashjs/dist/modern/umd/dash.all.min.js
    web/node_modules/shaka-packager/bin/packager-linux-x64
  )
  have_all=1
  for f in "${required[@]}"; do [ -f "$f" ] || have_all=0; done
  if [ "$have_all" = 1 ] && [ "$(cat web/node_modules/.setup-stamp 2>/dev/null)" = "$npm_stamp" ]; then
    say "npm: web/node_modules up to date"
  else
    if [ -f web/package-lock.json ]; then
      say "npm: npm ci in web/"
      quietly npm --prefix web ci --no-audit --no-fund --loglevel=error
    else
      say "npm: npm install in web/ (no lock file yet)"
      quietly npm --prefix web install --no-audit --no-fund --loglevel=error
      npm_stamp="$(stamp_of web/package.json web/package-lock.json)"
    fi
    for f in "${required[@]}"; do [ -f "$f" ] || die "npm install did not produce $f"; done
    echo "$npm_stamp" >web/node_modules/.setup-stamp
  fi
  chmod +x web/node_modules/shaka-packager/bin/packager-linux-x64 2>/dev/null || true
  say "browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
else
  say "browser: skipped (--no-browser); the watch page and e2e tests need a full setup"
fi

say "ffmpeg: $(ffmpeg -hide_banner -version | head -n1 | cut -d' ' -f1-3)"
say "done: activate with 'source .venv/bin/activate' or call .venv/bin/vod"
