#!/usr/bin/env bash
# Token-exact timing on and off, A/B: the same 10,000-user load (one shard,
# TTFT 200 ms, ITL 250 ms, 16 tokens, 20 s) against one brood-mock, without
# and with --tokenizer SPEC, alternating, PAIRS times. One line per run:
# requests ok and per second, content chunks, brood's CPU, the tokenizer
# threads' CPU, ring drops and requests timed per token.
#
#   bench/tok_ab.sh [SPEC] [PAIRS]        # cl100k_base, 4
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-cl100k_base} pairs=${2:-4}
. bench/lib.sh
bench_init brood-ab
mock_start --threads 1 --max-conns 11000 --ttft-ms 200 --itl-ms 250 --tokenizer "$spec"
for _ in $(seq "$pairs"); do
	for z in "" "--tokenizer $spec"; do
		"$bin/brood/brood" run -H http://127.0.0.1:$port -m brood-mock --chat -u 10000 -r 2000 \
			-t 20s -p 128 -o 16 -q --shards 1 $z --json "$out/ab.json" >/dev/null
		j=$out/ab.json
		n() { sed -n "s/.*\"$1\": *\([-0-9.e+]*\).*/\1/p" $j | head -n1; }
		echo "${z:-plain} ok=$(n requests_ok) rps=$(n rps) chunks=$(n chunks) cpu=$(n cpu_seconds) tokcpu=$(n tokenizer_cpu_seconds) drops=$(n ring_drops) timed=$(n timed_requests) load=$(cut -d' ' -f1 /proc/loadavg)"
	done
done
