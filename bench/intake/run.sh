#!/usr/bin/env bash
# Webhook intake benchmark: signed push deliveries into hoist's server on
# SQLite over loopback HTTP.
# Usage: bench/intake/run.sh [flags…]   e.g. bench/intake/run.sh -n 10000 -c 16
set -euo pipefail
# go.mod asks for Go 1.27.3 (standard-library security fixes); a machine
# with an older Go fetches that toolchain from the module proxy.
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/../.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
go build -o "$scratch/intake" ./bench/intake
"$scratch/intake" "$@"
