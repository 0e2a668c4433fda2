#!/usr/bin/env bash
# The AWS SDK for JavaScript v3 against `ferrodyn` and `ferrodyn-store`
# (tests/js): installs the npm packages pinned in tests/js/package-lock.json,
# then runs the tests against the binaries in $1 (default target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug}")"
cd tests/js
npm ci --no-audit --no-fund --loglevel=error
FERRODYN_BIN_DIR="$bin_dir" npm test
