#!/usr/bin/env bash
# brood against a brood-mock that injects every fault kind at RATE each
# (default 10%), for the issue-7 soak: no crash, no leak (run the ASan
# build: BROOD_BUILD=build-asan), bounded memory, every request accounted for.
#
#   BROOD_BUILD=build-asan MOCK_BUILD=build bench/faults.sh [-u USERS] [-t SECONDS] [-r RATE] \
#       [-- MORE BROOD FLAGS, e.g. --retries 2 --tokenizer cl100k_base]
#
# brood comes from $BROOD_BUILD (default build), brood-mock from $MOCK_BUILD
# (default the same): a release mock keeps the server from being the
# bottleneck when brood runs under ASan.
# Prints brood's request counts by class next to what the mock injected, the
# peak RSS of both processes, and whether ok + failed + cancelled = started.
# The mapping is exact for requests that finished; requests still in flight
# when -t ends are cancelled (their faults may be in the mock's log).
set -euo pipefail
cd "$(dirname "$0")/.."

users=5000 secs=60 rate=0.1
while getopts "u:t:r:" opt; do
	case $opt in
	u) users=$OPTARG ;; t) secs=$OPTARG ;; r) rate=$OPTARG ;;
	*) echo "usage: see the top of $0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
bin=${BROOD_BUILD:-build}/tools
mbin=${MOCK_BUILD:-${BROOD_BUILD:-build}}/tools
[ -x "$bin/brood/brood" ] && [ -x "$mbin/mock/brood-mock" ] ||
	{ echo "build first: scripts/build.sh" >&2; exit 1; }

out=$(mktemp -d /tmp/brood-faults-XXXXXX)
mock=
cleanup() { [ -n "$mock" ] && kill -TERM "$mock" 2>/dev/null && wait "$mock" 2>/dev/null; true; }
trap cleanup EXIT

spec="reset=$rate,stall=$rate:6s,slow-first-byte=$rate:6s,slow-first-token=$rate:6s"
spec+=",429=$rate:1,500=$rate,503=$rate,bad-sse=$rate,bad-json=$rate"
spec+=",truncated-chunked=$rate,huge-headers=$rate,no-answer=$rate,close=$rate"

# ASan: leaks fail the exit status; both processes report their peak RSS.
export ASAN_OPTIONS=detect_leaks=1:exitcode=23
"$mbin/mock/brood-mock" --port 0 \
	--max-conns $((2 * users + 1000)) --ttft-ms 50 --itl-ms 20 --fault "$spec" --fault-seed 1 \
	--fault-log "$out/faults.json" >"$out/mock.out" 2>"$out/mock.err" &
mock=$!
for _ in $(seq 100); do grep -q listening "$out/mock.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$out/mock.out")
[ -n "$port" ] || { cat "$out/mock.err" >&2; exit 1; }

cmd=("$bin/brood/brood" run -H "http://127.0.0.1:$port" -m brood-mock --chat -u "$users"
	-r $((users / 2)) -o 32 -t "${secs}s" --idle-timeout 3s --first-byte-timeout 3s
	--first-token-timeout 3s --timeout 30s --json "$out/report.json" -q "$@")
echo "brood: ${cmd[*]}"
echo "mock faults: $spec"
set +e
/usr/bin/time -f "%M %e %U %S" -o "$out/brood.rss" "${cmd[@]}" >"$out/brood.out" 2>"$out/brood.err"
rc=$?
set -e
awk '/VmHWM/ {print $2}' "/proc/$mock/status" >"$out/mock.rss"
kill -TERM "$mock"
wait "$mock" || { echo "brood-mock exited $?" >&2; cat "$out/mock.err" >&2; }
mock=
echo "brood exit status: $rc (23: ASan found leaks)"
grep -E "ERROR: (Address|Leak)Sanitizer|runtime error" "$out/brood.err" "$out/mock.err" || echo "sanitizers: nothing reported"
python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))["summary"]
f = json.load(open(f"{d}/faults.json"))["faults"]
rss, wall, usr, sys_ = open(f"{d}/brood.rss").read().split()
mock_rss = open(f"{d}/mock.rss").read().split()[0]
e = r["errors"]
print(f"started {r['requests_started']} = ok {r['requests_ok']} + failed {r['requests_failed']}"
      f" + cancelled {r['requests_cancelled']}: {'yes' if r['accounted'] else 'NO'}")
rows = [
    ("reset", e["reset"], f["reset"]),
    ("idle_timeout", e["idle_timeout"], f["stall"]),
    ("first_byte_timeout", e["first_byte_timeout"], f["slow-first-byte"] + f["no-answer"]),
    ("first_token_timeout", e["first_token_timeout"], f["slow-first-token"]),
    ("http_status", e["http_status"], f["429"] + f["500"] + f["503"]),
    ("protocol", e["protocol"], f["bad-sse"] + f["bad-json"] + f["truncated-chunked"] + f["huge-headers"]),
    ("server_closes", r["server_closes"], f["close"] + f["503"]),
]
print(f"{'class':22} {'brood':>8} {'mock':>8}")
for name, b, m in rows:
    print(f"{name:22} {b:8} {m:8}")
print("other classes:", {k: v for k, v in e.items() if v and k not in [x[0] for x in rows]})
print("http codes:", r["http_status_codes"])
print(f"brood peak RSS {int(rss)/1024:.0f} MiB, wall {wall} s, CPU {float(usr)+float(sys_):.1f} s;"
      f" brood-mock peak RSS {int(mock_rss)/1024:.0f} MiB")
PY
echo "files: $out"
