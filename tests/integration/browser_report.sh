#!/usr/bin/env bash
# The HTML report in a real headless browser (Debian's chromium): a run's
# report and a sweep's load with no console error, and the DOM holds every
# SVG chart. A page made to log a console error must be caught, so the check
# itself is known to work. Exits 77 (skipped) when chromium is missing.
#
# usage: browser_report.sh BROOD BROOD_MOCK SWEEP_JSON
set -euo pipefail

brood=$1 mock=$2 sweep=$3
command -v chromium >/dev/null || { echo "chromium is missing: run scripts/setup.sh" >&2; exit 77; }

dir=$(mktemp -d /tmp/brood-browser-XXXXXX)
mock_pid=
cleanup() {
	if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

# Loads file:// $1 headless; DOM to $2, browser log to $3. Bounded in time.
load() {
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-default-apps --disable-extensions --user-data-dir="$dir/profile-$RANDOM" \
		--enable-logging=stderr --v=0 --virtual-time-budget=2000 \
		--dump-dom "file://$1" >"$2" 2>"$3"
}

# Console messages (errors, failed loads, exceptions) as chromium logs them.
console_lines() {
	grep -E ':CONSOLE|Failed to load resource|Uncaught' "$1" || true
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# The detector catches a page that logs an error.
printf '<!DOCTYPE html><html><body><script>console.error("brood-probe")</script></body></html>\n' \
	>"$dir/bad.html"
load "$dir/bad.html" "$dir/bad.dom" "$dir/bad.log"
console_lines "$dir/bad.log" | grep -q brood-probe || fail "the console check missed a known error"

# A real run's report.
"$mock" --port 0 --ttft-ms 20 --itl-ms 5 >"$dir/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$dir/mock.out")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "${port:-}" ] || fail "brood-mock did not start"
timeout 60 "$brood" run -H "http://127.0.0.1:$port" -u 4 -t 2s -o 8 -q \
	--json "$dir/run.json" --html "$dir/run.html" >/dev/null
timeout 30 "$brood" report "$sweep" --html "$dir/sweep.html"

check() { # page, chart ids...
	local page=$1
	shift
	load "$dir/$page.html" "$dir/$page.dom" "$dir/$page.log"
	if [ -n "$(console_lines "$dir/$page.log")" ]; then
		console_lines "$dir/$page.log" >&2
		fail "$page.html logged to the console"
	fi
	if ! grep -q '</html>' "$dir/$page.dom"; then
		tail -20 "$dir/$page.log" >&2
		fail "$page.html: chromium dumped no DOM (its log is above)"
	fi
	for id in "$@"; do
		# The element is an svg in the live DOM, with drawn content.
		grep -q "<svg class=\"chart\" id=\"$id\"" "$dir/$page.dom" || fail "$page.html: no svg#$id"
	done
	local n
	n=$(grep -o '<path class="series"' "$dir/$page.dom" | wc -l)
	[ "$n" -ge 3 ] || fail "$page.html: only $n series drawn"
}

check run chart-ttft-time chart-itl-time chart-tokens-time chart-rps-time chart-cdf chart-errors-time chart-errors chart-responses
check sweep chart-sweep-ttft chart-sweep-itl chart-sweep-throughput chart-sweep-rps
grep -q 'class="mark"' "$dir/sweep.dom" || fail "sweep.html: saturation not marked"
echo "browser: run and sweep reports load clean with all charts"
