# shellcheck shell=bash
# What the bench scripts share; sourced from the repository root (after
# their `cd "$(dirname "$0")/.."`):
#
#   bench_init NAME   bin (the build's tools/), out (a fresh scratch directory
#                     /tmp/NAME-XXXXXX, removed on exit) and a trap that stops
#                     the mock; exits unless brood is built
#   mock_start ARGS   brood-mock --port 0 ARGS in the background (stdout and
#                     stderr to $out/mock.out, mock.err); sets mock and port
#   mock_stop         SIGTERM, then waits for it
#   bench_certs       a CA (ca.pem) and a P-256 server certificate for
#                     127.0.0.1, 127.0.0.2 and localhost (server.pem,
#                     server.key) in $out
#   num FILE KEY      the number after the first "KEY": in our own JSON

bench_init() {
	bin=${BROOD_BUILD:-build}/tools
	[ -x "$bin/brood/brood" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
	out=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")
	mock=
	trap bench_cleanup EXIT
}

bench_cleanup() {
	[ -n "$mock" ] && kill -TERM "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
	rm -rf "$out"
}

mock_start() {
	"$bin/mock/brood-mock" --port 0 "$@" >"$out/mock.out" 2>"$out/mock.err" &
	mock=$!
	port=
	for _ in $(seq 100); do
		# The file may not be there yet: the child makes it.
		port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out/mock.out" 2>/dev/null ||
			true)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { cat "$out/mock.err" >&2; exit 1; }
}

mock_stop() {
	kill -TERM "$mock" 2>/dev/null || true
	wait "$mock" 2>/dev/null || true
	mock=
}

bench_certs() {
	(
		cd "$out"
		printf 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\n' >ext.cnf
		printf 'basicConstraints=CA:FALSE\n' >>ext.cnf
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
			-out ca.pem -days 2 -subj /CN=bench-ca
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
			-out server.csr -subj /CN=localhost
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out server.pem -days 2 -extfile ext.cnf
	) >"$out/openssl.log" 2>&1
}

num() { sed -n "s/.*\"$2\": *\([-0-9.e+]*\).*/\1/p" "$1" | head -n 1; }
