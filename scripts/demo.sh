#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a 20 s benchmark
# of 3,000 streaming chat users against the bundled brood-mock on loopback
# (TTFT 200 ms, ITL 20 ms, 64 tokens), then prints the summary.
# Extra arguments go to `brood run`, e.g. scripts/demo.sh -u 10000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
bin=${BROOD_BUILD:-build}/tools

out=$(mktemp -d)
trap 'kill $mock 2>/dev/null; wait $mock 2>/dev/null; rm -rf "$out"' EXIT
"$bin/mock/brood-mock" --port 0 --ttft-ms 200 --itl-ms 20 >"$out/mock.out" 2>"$out/mock.err" &
mock=$!
for _ in $(seq 100); do
	# The file may not be there yet: the child makes it.
	port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out/mock.out" 2>/dev/null || true)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "${port:-}" ] || { echo "demo: brood-mock did not start:" >&2; cat "$out/mock.err" >&2; exit 1; }

"$bin/brood/brood" run -H "http://127.0.0.1:$port" --chat -u 3000 -r 1000 -t 20s -p 128 -o 64 \
	--json brood-demo.json --summary-file brood-demo.csv "$@"
echo "demo: wrote brood-demo.json and brood-demo.csv"
