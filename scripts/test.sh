#!/usr/bin/env bash
# Run the whole test suite twice: against the compiled core, then against
# the pure-Python twin (KANDO_PARALLEL_PURE=1).  Run it from the repository
# root in an environment where kando-parallel[test] is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tests against the compiled core"
KANDO_PARALLEL_EXPECT_BACKEND=cython python -m pytest "$@"

echo "== tests against the pure-Python twin"
KANDO_PARALLEL_PURE=1 KANDO_PARALLEL_EXPECT_BACKEND=python \
    python -m pytest "$@"
