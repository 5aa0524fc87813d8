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
bin=${BROOD_BUILD:-build}/tools
[ -x "$bin/brood/brood" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }

out=$(mktemp -d /tmp/brood-tls-bench-XXXXXX)
mock=
cleanup() { [ -n "$mock" ] && kill -TERM "$mock" 2>/dev/null && wait "$mock" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

# A CA and a P-256 server certificate for 127.0.0.1, as the tests make them.
(
	cd "$out"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext.cnf
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.pem -days 2 -subj /CN=bench-ca
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
		-out server.csr -subj /CN=localhost
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out server.pem -days 2 -extfile ext.cnf
) >"$out/openssl.log" 2>&1

# jq-free: the number after "key": (the first one from the given key on)
num() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1" | head -1; }

row() {
	local name=$1 scheme=$2
	shift 2
	"$bin/mock/brood-mock" --port 0 --threads 1 --max-conns 4096 --ttft-ms 0 --itl-ms 0 \
		--requests-per-conn 1 "$@" >"$out/mock.out" 2>"$out/mock.err" &
	mock=$!
	local port=
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out/mock.out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { cat "$out/mock.err" >&2; exit 1; }
	local targs=()
	[ "$scheme" = https ] && targs=(--cacert "$out/ca.pem" --tls-version "$version")
	"$bin/brood/brood" run -H "$scheme://127.0.0.1:$port" -m brood-mock -u "$users" \
		-t "${secs}s" -o 1 -p 16 --shards 1 -q "${targs[@]}" --json "$out/r.json" \
		>/dev/null
	kill -TERM "$mock"
	wait "$mock" 2>/dev/null || true
	mock=
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
