#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + integration),
# then runs them all again built with AddressSanitizer + UBSan (leaks fail
# too), the tests labelled tsan under ThreadSanitizer, and each libFuzzer
# target for FUZZ_SECONDS (20) over its seed corpus. This is the README's
# test command and what CI runs. Arguments go to the first two ctest runs,
# e.g. scripts/test.sh -L unit. BROOD_NO_SANITIZE=1 skips the sanitizer
# passes, BROOD_NO_FUZZ=1 the fuzzers.
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
if [ -z "${BROOD_NO_SANITIZE:-}" ]; then
	echo "== tests labelled tsan under ThreadSanitizer =="
	BROOD_BUILD=build-tsan scripts/build.sh -DBROOD_SANITIZE=thread -DBROOD_BENCH=OFF
	# setarch -R: TSan's fixed shadow layout clashes with the 6.x kernels'
	# wider mmap randomisation ("unexpected memory mapping").
	TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
		setarch "$(uname -m)" -R ctest --test-dir build-tsan --output-on-failure -L tsan
fi
if [ -z "${BROOD_NO_FUZZ:-}" ]; then
	echo "== libFuzzer targets, ${FUZZ_SECONDS:-20} s each =="
	scripts/fuzz.sh
fi
