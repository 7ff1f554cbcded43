#!/usr/bin/env bash
# The subscriber side end to end on the bundled sample: package it encrypted (ClearKey, cbcs),
# run the token-checking origin (vod serve) and the API (catalogue, activation, playback
# sessions, licence proxy, CMCD/QoE), activate a Standard subscriber, register a laptop and
# open a playback session. Prints the watch URL (signed manifest, session-bound licence, CMCD
# reports, heartbeats) and the console URL, then keeps both servers up until Ctrl-C.
#
# Usage: scripts/playback-demo.sh [--dir DIR]   (default ./demo; re-running reuses it)
# Ports: origin 8000, API 8081 (override with VOD_DEMO_ORIGIN_PORT / VOD_DEMO_API_PORT).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DIR="$REPO/demo"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "playback-demo: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
say() { printf '[demo] %s\n' "$*"; }

bash scripts/setup.sh
VOD="$REPO/.venv/bin/vod"
ORIGIN_PORT="${VOD_DEMO_ORIGIN_PORT:-8000}"
API_PORT="${VOD_DEMO_API_PORT:-8081}"
ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
API="http://127.0.0.1:$API_PORT"
mkdir -p "$DIR"
DB="sqlite:///$DIR/vod.db"
KEYS="$DIR/keys.sqlite"
SECRET_FILE="$DIR/token-secret"
[ -s "$SECRET_FILE" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET_FILE")
SECRET="$(cat "$SECRET_FILE")"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# Redis keeps sessions, stream slots and QoE windows: use the machine's, else a private one.
REDIS_URL="${VOD_PLAYBACK_REDIS_URL:-redis://127.0.0.1:6379/2}"
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  say "no Redis at $REDIS_URL: starting a private one on 6391"
  redis-server --port 6391 --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$DIR/redis.log" 2>&1 &
  pids+=($!)
  REDIS_URL="redis://127.0.0.1:6391/2"
  for _ in $(seq 50); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ ! -f "$DIR/origin/sample/manifest.mpd" ]; then
  say "packaging fixtures/sample.mov encrypted (ClearKey, cbcs) into $DIR/origin"
  "$VOD" ingest fixtures/sample.mov --title-id sample --origin "$DIR/origin" \
    --device-class web --drm clearkey --scheme cbcs --key-store "$KEYS" \
    --catalogue-db "$DB" --base-url "$ORIGIN_URL"
fi
"$VOD" catalogue --database-url "$DB" import fixtures/sample.json

say "origin (token gateway) on $ORIGIN_URL"
"$VOD" serve "$DIR/origin" --port "$ORIGIN_PORT" --token-secret-file "$SECRET_FILE" >"$DIR/origin.log" 2>&1 &
pids+=($!)
# Identity: the development issuer's key pair in $DIR/auth (kept across runs); the API verifies
# bearer tokens against its jwks.json. Secrets travel in the environment, never on argv.
export VOD_AUTH_DIR="$DIR/auth"
VOD_AUTH_JWKS="$("$VOD" auth init --print-jwks-path)"
export VOD_AUTH_JWKS
say "API on $API (bearer tokens from $VOD_AUTH_DIR)"
VOD_PLAYBACK_REDIS_URL="$REDIS_URL" VOD_SESSION_SECRET="$SECRET-session" VOD_TOKEN_SECRET="$SECRET" \
  "$VOD" catalogue --database-url "$DB" serve --port "$API_PORT" \
  --origin-url "$ORIGIN_URL" --key-store "$KEYS" >"$DIR/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs "$API/health" >/dev/null 2>&1 && curl -fs "$ORIGIN_URL/_titles" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$API/health" >/dev/null || { tail -n 30 "$DIR/api.log" >&2; exit 1; }

CUSTOMER="demo-$(date +%s)"
# The subscriber acts for itself with its own token; the operator token is for the console.
VOD_API_TOKEN="$("$VOD" auth token --role subscriber --customer "$CUSTOMER" --ttl 14400)"
export VOD_API_TOKEN
"$VOD" activate --customer "$CUSTOMER" --territory GB --tier standard --api "$API"
"$VOD" device register --customer "$CUSTOMER" --device laptop --api "$API"
"$VOD" play --customer "$CUSTOMER" --device laptop --title sample --api "$API"
OPERATOR="$("$VOD" auth token --role operator --ttl 14400)"
echo
say "open the watch URL above in a browser; KPIs and alarms (signed in as an operator):"
say "  $API/console?qoe=1#token=$OPERATOR"
say "try: VOD_API_TOKEN=\$(.venv/bin/vod auth token --role operator) .venv/bin/vod qoe kpis --api $API"
say "(Ctrl-C stops the servers)"
wait
