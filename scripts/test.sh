#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + integration),
# then runs them all again built with AddressSanitizer + UBSan (leaks fail
# too). This is the README's test command and what CI runs. Arguments go to
# ctest, e.g. scripts/test.sh -L unit. BROOD_NO_SANITIZE=1 skips the second pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir "${BROOD_BUILD:-build}" --output-on-failure -j "$(nproc)" "$@"
if [ -z "${BROOD_NO_SANITIZE:-}" ]; then
	echo "== again under ASan + UBSan =="
	# The sentencepiece test models trained in the first pass serve this one too.
	BROOD_BUILD=build-asan scripts/build.sh -DBROOD_SANITIZE=address,undefined -DBROOD_BENCH=OFF \
		-DBROOD_TESTDATA_DIR="$PWD/${BROOD_BUILD:-build}/testdata"
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ctest --test-dir build-asan --output-on-failure -j "$(nproc)" "$@"
fi
