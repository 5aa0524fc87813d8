#!/usr/bin/env bash
# Configures and builds brood into build/ (or $BROOD_BUILD). Extra arguments
# go to cmake's configure step, e.g. -DBROOD_SANITIZE=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BROOD_BUILD:-build}
werror=OFF
[ -n "${CI:-}" ] && werror=ON
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${BROOD_BUILD_TYPE:-RelWithDebInfo} \
	-DBROOD_WERROR=$werror "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
