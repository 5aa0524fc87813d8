#!/usr/bin/env bash
# End-to-end overhead of brood against brood-mock on this machine.
#
#   bench/e2e.sh -u USERS [-T TTFT_MS] [-I ITL_MS] [-o TOKENS] [-t SECONDS]
#                [-s SHARDS] [-m MOCK_THREADS] [-r SPAWN_RATE] [-k TOKENS_PER_CHUNK]
#                [-b BATCH_US] [-P (no pinning)] [-z TOKENIZER] [-L (HTTPS)]
#
# Two passes with the same load:
#   1. plain: the generator's CPU per content chunk, users held, failures;
#   2. traced (--trace --trace-chunks against brood-mock --truth): the delay
#      from the mock's send of each event to brood's receive of it.
# Prints one Markdown table row. Both processes share this machine's cores,
# so CPU figures are what brood itself used (getrusage), not wall time.
# -z SPEC: brood re-tokenises every response with --tokenizer SPEC (and the
# mock streams words that are one token of it); the row gains requests/s,
# output tokens/s, requests timed per token / ok, ring drops and the
# tokenizer threads' CPU seconds. Without -z the row has requests/s too.
# -L: the same over HTTPS (brood-mock --tls-cert with a P-256 certificate
# made here; brood verifies it with --cacert; TLS 1.3, keep-alive).
set -euo pipefail
cd "$(dirname "$0")/.."

users=1000 ttft=200 itl=250 tokens=64 secs=30 shards=0 mthreads=0 rate=0 tpc=1 batch=0 nopin=0
tokenizer= tls=0
while getopts "u:T:I:o:t:s:m:r:k:b:Pz:L" opt; do
	case $opt in
	u) users=$OPTARG ;; T) ttft=$OPTARG ;; I) itl=$OPTARG ;; o) tokens=$OPTARG ;;
	t) secs=$OPTARG ;; s) shards=$OPTARG ;; m) mthreads=$OPTARG ;; r) rate=$OPTARG ;;
	k) tpc=$OPTARG ;; b) batch=$OPTARG ;; P) nopin=1 ;; z) tokenizer=$OPTARG ;; L) tls=1 ;;
	*) echo "usage: see the top of $0" >&2; exit 2 ;;
	esac
done
. bench/lib.sh
bench_init brood-bench
[ "$rate" = 0 ] && rate=$(( users / 5 > 100 ? users / 5 : 100 ))

scheme=http
if [ "$tls" = 1 ]; then
	scheme=https
	bench_certs
fi

# One destination address has one ephemeral-port range (~28k ports): past
# 25,000 users, listen on all loopback addresses and spread over two.
listen=127.0.0.1
hosts=
if [ "$users" -gt 25000 ]; then listen=0.0.0.0; fi

start_mock() {
	local extra=("$@")
	local margs=(--host "$listen" --ttft-ms "$ttft" --itl-ms "$itl"
		--tokens-per-chunk "$tpc" --max-conns $(( users + 1000 )))
	[ "$mthreads" != 0 ] && margs+=(--threads "$mthreads")
	[ -n "$tokenizer" ] && margs+=(--tokenizer "$tokenizer")
	[ "$tls" = 1 ] && margs+=(--tls-cert "$out/server.pem" --tls-key "$out/server.key")
	mock_start "${margs[@]}" "${extra[@]}"
	hosts=$scheme://127.0.0.1:$port
	[ "$listen" = 0.0.0.0 ] && hosts=$hosts,$scheme://127.0.0.2:$port
	return 0
}

run_brood() {
	local sargs=()
	[ "$shards" != 0 ] && sargs=(--shards "$shards")
	[ "$batch" != 0 ] && sargs+=(--batch-us "$batch")
	[ "$nopin" != 0 ] && sargs+=(--no-pin)
	[ -n "$tokenizer" ] && sargs+=(--tokenizer "$tokenizer")
	[ "$tls" = 1 ] && sargs+=(--cacert "$out/ca.pem")
	"$bin/brood/brood" run -H "$hosts" -m brood-mock --chat -u "$users" -r "$rate" \
		-t "${secs}s" -p 128 -o "$tokens" -q "${sargs[@]}" "$@" >"$out/brood.out" 2>"$out/brood.err" ||
		{ cat "$out/brood.err" >&2; exit 1; }
}

start_mock
run_brood --json "$out/plain.json"
mock_stop
j=$out/plain.json
ok=$(num "$j" requests_ok) failed=$(num "$j" requests_failed)
held=$(num "$j" connections_open) chunks=$(num "$j" chunks) cpu=$(num "$j" cpu_seconds)
nspc=$(num "$j" cpu_ns_per_chunk) cqes=$(num "$j" cqes) waits=$(num "$j" loop_waits)
elapsed=$(num "$j" elapsed_s) rps=$(num "$j" rps) otps=$(num "$j" output_tokens_per_s)
timed=$(num "$j" timed_requests) drops=$(num "$j" ring_drops) tcpu=$(num "$j" tokenizer_cpu_seconds)
pct() { sed -n "s/.*\"$1\": {[^}]*\"$2\": \([0-9.]*\).*/\1/p" "$j"; }
ttft50=$(pct ttft_ms p50) ttft99=$(pct ttft_ms p99) itl50=$(pct itl_ms p50) itl99=$(pct itl_ms p99)

start_mock --truth "$out/truth.tsv"
run_brood --json "$out/traced.json" --trace "$out/trace.jsonl" --trace-chunks
mock_stop
"$bin/brood/brood" truth-diff "$out/trace.jsonl" "$out/truth.tsv" >"$out/diff.txt" || true
delay=$(sed -n 's/.*p50 \([0-9.]*\) p90 [0-9.]* p99 \([0-9.]*\) .*/\1 \2/p' "$out/diff.txt")
matched=$(sed -n 's/events matched \([0-9]*\), unmatched \([0-9]*\), missing \([0-9]*\).*/\1\/\2\/\3/p' "$out/diff.txt")

awk -v u="$users" -v ok="$ok" -v f="$failed" -v h="$held" -v c="$chunks" -v cpu="$cpu" \
	-v ns="$nspc" -v q="$cqes" -v w="$waits" -v e="$elapsed" -v d="$delay" -v m="$matched" \
	-v t50="$ttft50" -v i50="$itl50" -v t99="$ttft99" -v i99="$itl99" -v rps="$rps" \
	-v otps="$otps" -v timed="$timed" -v drops="$drops" -v tcpu="$tcpu" -v z="$tokenizer" 'BEGIN {
	split(d, dd, " ");
	printf "| %d | %d | %d | %d | %.0f | %.2f | %.0f | %.1f | %.1f / %.1f | %.1f / %.1f | %s / %s | %s | %.1f |",
		u, h, ok, f, c / e, cpu, ns, (w > 0 ? q / w : 0), t50, t99, i50, i99, dd[1], dd[2], m, rps
	if (z != "")
		printf " %.0f | %d / %d | %d | %.2f |", otps, timed, ok, drops, tcpu
	printf "\n"
}'
