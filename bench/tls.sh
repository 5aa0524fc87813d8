#!/usr/bin/env bash
# TLS handshakes per second on one brood shard, full and resumed, against
# brood-mock --tls-cert on this machine (loopback), with plain-HTTP
# reconnects as the baseline.
#
#   bench/tls.sh [-u USERS] [-t SECONDS] [-V 1.2|1.3]
#
# Every request opens a new connection (brood-mock --requests-per-conn 1)
# and asks for one token with no delay, so the request rate is the
# connection rate. "full": the mock issues no tickets (--tls-no-tickets);
# "resumed": every reconnect offers the session of the connection before.
# brood runs one shard; the mock one thread; they share the machine's cores,
# so the shard's own CPU per handshake (getrusage of its thread, which also
# covers the TCP connect and the request) is the figure to compare.
# Prints Markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/.."

users=64 secs=10 version=1.3
while getopts "u:t:V:" opt; do
	case $opt in
	u) users=$OPTARG ;; t) secs=$OPTARG ;; V) version=$OPTARG ;;
	*) echo "usage: see the top of $0" >&2; exit 2 ;;
	esac
done
. bench/lib.sh
bench_init brood-tls-bench
bench_certs

row() {
	local name=$1 scheme=$2
	shift 2
	mock_start --threads 1 --max-conns 4096 --ttft-ms 0 --itl-ms 0 --requests-per-conn 1 "$@"
	local targs=()
	[ "$scheme" = https ] && targs=(--cacert "$out/ca.pem" --tls-version "$version")
	"$bin/brood/brood" run -H "$scheme://127.0.0.1:$port" -m brood-mock -u "$users" \
		-t "${secs}s" -o 1 -p 16 --shards 1 -q "${targs[@]}" --json "$out/r.json" \
		>/dev/null
	mock_stop
	local ok elapsed cpu hs resumed conns
	ok=$(num "$out/r.json" requests_ok)
	elapsed=$(num "$out/r.json" elapsed_s)
	cpu=$(num "$out/r.json" shard_cpu_seconds)
	conns=$(num "$out/r.json" connects)
	hs=$(sed -n 's/.*"tls": {"handshakes": \([0-9]*\), "resumed": \([0-9]*\)}.*/\1/p' "$out/r.json")
	resumed=$(sed -n 's/.*"tls": {"handshakes": \([0-9]*\), "resumed": \([0-9]*\)}.*/\2/p' "$out/r.json")
	awk -v n="$name" -v ok="$ok" -v el="$elapsed" -v cpu="$cpu" -v hs="$hs" -v rs="$resumed" \
		-v conns="$conns" 'BEGIN {
		per = (hs > 0 ? hs : conns)
		printf "| %s | %d | %d | %d | %d | %.0f | %.0f | %.2f |\n", n, ok, conns, hs + 0, rs + 0,
			per / el, cpu / per * 1e6, cpu / el
	}'
}

echo "| connections (TLS $version, $users users, ${secs} s, 1 shard) | requests ok | connects | handshakes | resumed | per s | shard CPU us each | shard CPU share |"
echo "|---|---|---|---|---|---|---|---|"
row "plain HTTP reconnects" http
row "TLS full handshakes" https --tls-cert "$out/server.pem" --tls-key "$out/server.key" --tls-no-tickets
row "TLS resumed handshakes" https --tls-cert "$out/server.pem" --tls-key "$out/server.key"
