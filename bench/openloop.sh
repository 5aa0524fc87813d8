#!/usr/bin/env bash
# Open-loop accuracy of brood against brood-mock on this machine: does brood
# send at the rate it was asked, and how late (queue_ms: intended send time
# -> send) as the rate grows?
#
#   bench/openloop.sh [-d constant|poisson|gamma] [-t SECONDS] [-u CONNS] RATE...
#
# One Markdown row per rate: asked and achieved rate (requests sent per
# second of the measured window), queue_ms p50 / p99 / max, late, dropped,
# brood's CPU. The mock answers at once (TTFT 1 ms, 4 tokens 1 ms apart), so
# the figures are brood's own scheduling, not the server's.
set -euo pipefail
cd "$(dirname "$0")/.."

dist=constant secs=10 conns=1000
while getopts "d:t:u:" opt; do
	case $opt in
	d) dist=$OPTARG ;; t) secs=$OPTARG ;; u) conns=$OPTARG ;;
	*) echo "usage: see the top of $0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: see the top of $0" >&2; exit 2; }
. bench/lib.sh
bench_init brood-bench
mock_start --ttft-ms 1 --itl-ms 1

echo "| asked /s | $dist | achieved /s | sent | queue p50 / p99 / max ms | late | dropped | brood CPU s |"
echo "|---|---|---|---|---|---|---|---|"
for rate in "$@"; do
	"$bin/brood/brood" run -H "http://127.0.0.1:$port" -m brood-mock --qps "$rate" \
		--qps-distribution "$dist" -u "$conns" -t "${secs}s" -o 4 -p 32 -q \
		--json "$out/r.json" >/dev/null
	python3 - "$out/r.json" "$rate" "$dist" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, g = d["summary"], d["generator"]
sent = s["queue_ms"]["count"]
q = s["queue_ms"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sent / s['measured_s']:.1f} | {sent} | "
      f"{q['p50']:.3f} / {q['p99']:.3f} / {q['max']:.3f} | {s['late_requests']} | "
      f"{s['dropped_requests']} | {g['cpu_seconds']:.2f} |")
PY
done
