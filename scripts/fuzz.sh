#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each over its
# seed corpus (tests/fuzz/corpus/<target>/) for FUZZ_SECONDS (default 20).
# New inputs go to a scratch corpus, not into the repository; a crash leaves
# its input in build-fuzz/artifacts/ and fails the script. Arguments name the
# targets to run (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
build=${BROOD_FUZZ_BUILD:-build-fuzz}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(http1 sse json opts)
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROOD_FUZZ=ON \
	-DBUILD_TESTING=OFF -DBROOD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")
mkdir -p "$build/artifacts"
for t in "${targets[@]}"; do
	work="$build/corpus/$t"
	log="$build/fuzz_$t.log"
	mkdir -p "$work"
	echo "== fuzz_$t for ${secs}s =="
	if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=4096 -artifact_prefix="$build/artifacts/$t-" \
		"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
		tail -n 60 "$log" >&2
		echo "fuzz_$t: failed; the input is in $build/artifacts/" >&2
		exit 1
	fi
	grep -E "^Done [0-9]+ runs" "$log" || tail -n 3 "$log"
done
