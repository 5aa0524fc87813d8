#!/usr/bin/env bash
# brood and wrk against the same brood-mock stream, one after the other:
# CPU per SSE event of each client, and their ratio. wrk only frames HTTP;
# brood also parses SSE and JSON and times every event.
#
#   bench/vs_wrk.sh [-c CONNECTIONS] [-I ITL_MS] [-o TOKENS] [-t SECONDS]
#
# Needs Debian's wrk. Events are counted by the mock (its stats line), so
# both clients are charged for the same thing.
set -euo pipefail
cd "$(dirname "$0")/.."

conns=256 itl=1 tokens=2000 secs=20
while getopts "c:I:o:t:" opt; do
	case $opt in
	c) conns=$OPTARG ;; I) itl=$OPTARG ;; o) tokens=$OPTARG ;; t) secs=$OPTARG ;;
	*) echo "usage: see the top of $0" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "vs_wrk: install wrk (apt-get install wrk)" >&2; exit 1; }
. bench/lib.sh
bench_init brood-vswrk

body='{"model":"brood-mock","messages":[{"role":"user","content":"Write a long story."}],'
body+="\"max_tokens\":$tokens,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
cat >"$out/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
EOF

# run_client NAME CMD...: prints "NAME cpu_s events ns_per_event"
run_client() {
	local name=$1
	shift
	mock_start --threads 1 --max-conns $(( conns + 100 )) --ttft-ms 50 --itl-ms "$itl"
	local cmd=("${@//PORT/$port}")
	/usr/bin/time -f "%U %S" -o "$out/time" "${cmd[@]}" >"$out/client.out" 2>&1
	mock_stop
	local events
	events=$(sed -n 's/.* \([0-9]*\) events.*/\1/p' "$out/mock.err")
	awk -v n="$name" -v e="$events" '{ cpu = $1 + $2;
		printf "%s %.2f %d %.0f\n", n, cpu, e, cpu * 1e9 / e }' "$out/time"
}

{
	run_client brood "$bin/brood/brood" run -H http://127.0.0.1:PORT -m brood-mock --chat \
		-u "$conns" -t "${secs}s" -o "$tokens" -p 16 --shards 1 -q
	run_client wrk wrk -t 1 -c "$conns" -d "${secs}s" --timeout 10s -s "$out/post.lua" \
		"http://127.0.0.1:PORT/v1/chat/completions"
} | awk '{ print; ns[$1] = $4 }
	END { printf "ratio brood/wrk CPU per event: %.2f\n", ns["brood"] / ns["wrk"] }'
