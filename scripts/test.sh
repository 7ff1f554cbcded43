#!/usr/bin/env bash
# Full check, as CI runs it: setup, ruff, pytest. Ends with one plain summary line
# ("CI: N passed, N failed, N skipped"); the line before it says how ruff and pytest
# exited and how long it took. Exits non-zero on any failure, including pytest
# collecting no tests (exit 5). Extra arguments go to pytest.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
started=$SECONDS

summary() { # passed failed skipped detail
  echo "CI: ruff $ruff_state; layers $layers_state; $4; $((SECONDS - started))s"
  echo "CI: $1 passed, $2 failed, $3 skipped"
}

ruff_state="not run"
layers_state="not run"
if ! bash scripts/setup.sh </dev/null; then
  summary 0 1 0 "setup failed"
  exit 1
fi

echo "[test] ruff check ."
if .venv/bin/ruff check . </dev/null; then ruff_state=ok; else ruff_state=FAILED; fi
echo "[test] lint-imports (layer contracts in pyproject.toml)"
if .venv/bin/lint-imports --no-cache </dev/null; then layers_state=ok; else layers_state=FAILED; fi

pytest_args=(-q --timeout=600 --durations=25)
# No cache dir in CI: the clone is fresh anyway and must stay unchanged.
[ -n "${CI:-}" ] && pytest_args+=(-p no:cacheprovider)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "[test] pytest ${pytest_args[*]} $*"
# CI stops a run at 90 min; interrupt pytest before that so it still prints its summary.
budget=$((${VOD_TEST_BUDGET:-5100} - (SECONDS - started)))
timeout --preserve-status --signal=INT --kill-after=60 "$budget" \
  .venv/bin/pytest "${pytest_args[@]}" "$@" </dev/null 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# pytest's closing line, e.g. "3 failed, 120 passed, 2 skipped, 1 error in 81.2s".
final="$(grep -E '^[= ]*[0-9]+ (passed|failed|skipped|errors?|xfailed|xpassed|deselected)' "$log" |
  tail -n 1)"
count() { grep -oE "[0-9]+ $1" <<<"$final" | awk '{s += $1} END {print s + 0}'; }
passed=$(count passed)
failed=$(($(count failed) + $(count 'errors?')))
skipped=$(count skipped)

case "$rc" in
  0) detail="pytest ok" ;;
  1) detail="pytest: tests failed" ;;
  2) detail="pytest exit 2: interrupted" ;;
  3) detail="pytest exit 3: internal error" ;;
  4) detail="pytest exit 4: usage error" ;;
  5) detail="pytest exit 5: no tests collected" ;;
  *) detail="pytest exit $rc" ;;
esac

status=0
[ "$rc" -ne 0 ] && status=1
[ "$ruff_state" = ok ] || status=1
[ "$layers_state" = ok ] || status=1
# A failing run never reports "0 failed".
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
summary "$passed" "$failed" "$skipped" "$detail"
exit "$status"
