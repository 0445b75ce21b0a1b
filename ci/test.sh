#!/usr/bin/env bash
# The README's test command: install, build, run every test under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
./ci/install-deps.sh
./ci/build.sh "$preset"
ctest --preset "$preset"
