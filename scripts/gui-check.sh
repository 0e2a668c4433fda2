#!/usr/bin/env bash
# dynamodb-admin (the GUI developers run against DynamoDB Local) against
# `ferrodyn`, driven in headless Chromium: list tables, create a table through
# the form, add an item in the editor, see it in the table view
# (tests/gui/check.mjs). Needs Debian's `chromium` (/usr/bin/chromium, or set
# CHROMIUM); writes a screenshot to $2 (default target/gui-check.png).
#
# Usage: scripts/gui-check.sh [bin dir] [screenshot.png]
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug}")"
shot="$(realpath -m "${2:-${CARGO_TARGET_DIR:-target}/gui-check.png}")"
cd tests/gui
npm ci --no-audit --no-fund --loglevel=error
node check.mjs "$bin_dir/ferrodyn" "$shot"
