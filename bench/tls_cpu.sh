#!/usr/bin/env bash
# Generator CPU per content chunk with and without TLS, against brood-mock on
# this machine (loopback), one brood shard.
#
#   bench/tls_cpu.sh [-u USERS] [-r SPAWN_RATE] [-a SECONDS] [-b SECONDS] [-I ITL_MS]
#
# For http and https alike, two runs of the same load that differ only in
# length (-a and -b seconds; http and https interleaved, so that the load of
# whatever else shares the machine drifts alike): each run's CPU per chunk
# (brood's own CPU,
# getrusage, user + system, over content chunks) includes its start-up (a
# connect per user, and for https a full TLS 1.3 handshake per user); the
# difference between the two runs, (CPU_b - CPU_a) / (chunks_b - chunks_a),
# is the steady state's cost per chunk, with the start-up cancelled out.
# Load: chat streaming, prompt 128 tokens, 64 tokens, TTFT 200 ms, ITL 250 ms
# (-I), keep-alive. Prints Markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/.."

users=10000 rate=1000 ta=30 tb=120 itl=250
while getopts "u:r:a:b:I:" opt; do
	case $opt in
	u) users=$OPTARG ;; r) rate=$OPTARG ;; a) ta=$OPTARG ;; b) tb=$OPTARG ;; I) itl=$OPTARG ;;
	*) echo "usage: see the top of $0" >&2; exit 2 ;;
	esac
done
. bench/lib.sh
bench_init brood-tls-cpu
bench_certs

# run SCHEME SECONDS: prints "cpu chunks ok failed ttft_p50 itl_p50"
run() {
	local scheme=$1 secs=$2 margs=() bargs=()
	if [ "$scheme" = https ]; then
		margs=(--tls-cert "$out/server.pem" --tls-key "$out/server.key")
		bargs=(--cacert "$out/ca.pem")
	fi
	mock_start --max-conns $((users + 1000)) --ttft-ms 200 --itl-ms "$itl" "${margs[@]}"
	"$bin/brood/brood" run -H "$scheme://127.0.0.1:$port" -m brood-mock --chat -u "$users" \
		-r "$rate" -t "${secs}s" -p 128 -o 64 --shards 1 -q "${bargs[@]}" \
		--json "$out/r.json" >/dev/null
	mock_stop
	local j=$out/r.json
	pct() { sed -n "s/.*\"$1\": {[^}]*\"p50\": \([0-9.]*\).*/\1/p" "$j"; }
	echo "$(num "$j" cpu_seconds) $(num "$j" chunks) $(num "$j" requests_ok) \
$(num "$j" requests_failed) $(pct ttft_ms) $(pct itl_ms)"
}

echo "| scheme ($users users, -r $rate, 1 shard) | run s | ok | failed | chunks | CPU s | CPU ns/chunk (whole run) | TTFT / ITL p50 ms |"
echo "|---|---|---|---|---|---|---|---|"
declare -A steady resa resb
for t in "$ta" "$tb"; do
	for scheme in http https; do
		r=$(run "$scheme" "$t")
		if [ "$t" = "$ta" ]; then resa[$scheme]=$r; else resb[$scheme]=$r; fi
	done
done
for scheme in http https; do
	read -r ca na oka fa tta ita <<<"${resa[$scheme]}"
	read -r cb nb okb fb ttb itb <<<"${resb[$scheme]}"
	awk -v s="$scheme" -v t="$ta" -v c="$ca" -v n="$na" -v ok="$oka" -v f="$fa" -v tt="$tta" -v it="$ita" \
		'BEGIN { printf "| %s | %d | %d | %d | %d | %.2f | %.0f | %.1f / %.1f |\n", s, t, ok, f, n, c, c / n * 1e9, tt, it }'
	awk -v s="$scheme" -v t="$tb" -v c="$cb" -v n="$nb" -v ok="$okb" -v f="$fb" -v tt="$ttb" -v it="$itb" \
		'BEGIN { printf "| %s | %d | %d | %d | %d | %.2f | %.0f | %.1f / %.1f |\n", s, t, ok, f, n, c, c / n * 1e9, tt, it }'
	steady[$scheme]=$(awk -v ca="$ca" -v cb="$cb" -v na="$na" -v nb="$nb" \
		'BEGIN { printf "%.0f", (cb - ca) / (nb - na) * 1e9 }')
done
echo
echo "Steady state (difference of the two runs): http ${steady[http]} ns/chunk," \
	"https ${steady[https]} ns/chunk, TLS/plain $(awk -v a="${steady[https]}" -v b="${steady[http]}" \
	'BEGIN { printf "%.2f", a / b }')"
