#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints, then runs every test.
# METALLB_TEST_STRICT=1 (set by .ci/run) turns every skipped test into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check .
python3 -m pytest "$@"
