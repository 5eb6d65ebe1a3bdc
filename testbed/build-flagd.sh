#!/usr/bin/env bash
# Builds testbed/flagd-eval (flagd's Go core evaluating a flags.json) from the Go module proxy
# into the testbed cache, keyed by the flagd core version and the program's source.
# Prints the path of the binary on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# flagd core, for the bucketing agreement tests (tests/unit/flags, bench/bucketing.py).
FLAGD_CORE_VERSION="${FLAGD_CORE_VERSION:-v0.12.1}"

cache="${RAMP_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ramp-testbed}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
export GOPATH="${GOPATH:-$HOME/go}"

src="$here/flagd-eval/main.go"
digest="$(sha256sum "$src" | cut -c1-12)"
out="$cache/flagd-eval-$FLAGD_CORE_VERSION-$digest"
if [[ -x "$out/flagd-eval" ]]; then
  echo "$out/flagd-eval"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.build-flagd.lock" # one build at a time; a second caller waits for the first
flock 9
if [[ ! -x "$out/flagd-eval" ]]; then
  printf '[testbed] building flagd-eval on github.com/open-feature/flagd/core %s (about 1 min)\n' \
    "$FLAGD_CORE_VERSION" >&2
  work="$cache/src/flagd-eval-$FLAGD_CORE_VERSION-$digest"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  cp "$src" main.go
  cat > go.mod <<MOD
module ramp.dev/testbed/flagd-eval

go 1.24

require github.com/open-feature/flagd/core $FLAGD_CORE_VERSION
MOD
  go mod tidy >&2
  mkdir -p "$out.tmp"
  go build -trimpath -ldflags "-s -w" -o "$out.tmp/flagd-eval" . >&2
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out/flagd-eval"
