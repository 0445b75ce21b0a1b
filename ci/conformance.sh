#!/usr/bin/env bash
# The README's main job: install, build, run the full conformance suite against the
# embedded emulated endpoint, and print where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/install-deps.sh
./ci/build.sh default
out="${IOTCONFORM_OUT:-$PWD/iotconform-report}"
./build/iotconform run --out "$out" "$@"
