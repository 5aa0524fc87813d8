#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + integration).
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir "${BROOD_BUILD:-build}" --output-on-failure -j "$(nproc)" "$@"
