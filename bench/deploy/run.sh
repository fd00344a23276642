#!/usr/bin/env bash
# Deploy benchmark: hoist sync vs aws s3 sync vs s3deploy on versitygw.
# Usage: bench/deploy/run.sh [files] [bytes-per-file] [deploybench flags…]
#   e.g. bench/deploy/run.sh 10000 20000 -aws=false -only "git mirror,s3deploy" -repeat 5
# Needs versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)
# and the aws CLI; s3deploy v2.16.0 is built in a scratch module (not committed).
set -euo pipefail
# go.mod asks for Go 1.27.3 (standard-library security fixes); a machine
# with an older Go fetches that toolchain from the module proxy.
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/../.."
files=${1:-10000}
size=${2:-20000}
gopath=$(go env GOPATH)
versity=$(command -v versitygw || echo "$gopath/bin/versitygw")

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
s3deploy=""
if (cd "$scratch" && go mod init scratch >/dev/null 2>&1 &&
    go get github.com/bep/s3deploy/v2@v2.16.0 >/dev/null 2>&1 &&
    go build -o "$scratch/s3deploy" github.com/bep/s3deploy/v2); then
  s3deploy="$scratch/s3deploy"
else
  echo "s3deploy could not be built; comparing with aws s3 sync only" >&2
fi
go build -o "$scratch/deploybench" ./bench/deploy
"$scratch/deploybench" -files "$files" -size "$size" -versitygw "$versity" -s3deploy "$s3deploy" "${@:3}"
