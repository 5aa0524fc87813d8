#!/usr/bin/env bash
# Installs the Debian 12 packages brood builds and tests with, when missing.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

pkgs=(
	cmake g++ gcc make pkg-config
	liburing-dev libssl-dev openssl node-llhttp libsimdjson-dev
	libsentencepiece-dev libbenchmark-dev libcmocka-dev libpcre2-dev
	chromium python3-jsonschema
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
