#!/usr/bin/env bash
# Mutation testing of the pure core (mutmut 3): scripts/mutation.sh [PATH...]
# Each PATH (a module, or a package folder such as pipeline/planning) is mutated on its own
# and checked by its fast unit tests only (the map is TARGETS in scripts/mutation_run.py);
# with no PATH, the default list there. Prints killed/total, reviewed equivalents
# (tests/mutation_equivalents.txt), the score and the wall time per module, then the
# survivors; their diffs go to .mutation/. Not part of .ci/run: see README "Testing".
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
if ! .venv/bin/python -c "import mutmut" 2>/dev/null; then
  echo "mutation: mutmut is missing; install the test extras: .venv/bin/pip install -e '.[test]'" >&2
  exit 2
fi
exec .venv/bin/python scripts/mutation_run.py "$@"
