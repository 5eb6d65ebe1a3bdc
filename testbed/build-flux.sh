#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller from the Go module proxy into the
# testbed cache, keyed by version, with their CRDs next to them. Prints the directory holding
# the binaries and a crds/ folder on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${RAMP_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ramp-testbed}"
out="$cache/flux-$FLUX_SOURCE_CONTROLLER_VERSION-$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
mkdir -p "$cache"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
export GOPATH="${GOPATH:-$HOME/go}"

log() { printf '[testbed] %s\n' "$*" >&2; }

# Its own lock: build.sh holds .build.lock while it calls this script.
exec 8>"$cache/.build-flux.lock"
flock 8

# build_controller NAME VERSION: the controller's main package lives at its module root, and
# its go.mod replaces its api module with ./api, which `go install` refuses. A wrapper module
# requires exactly what the controller's go.mod requires (so the build resolves the same
# versions), keeps its non-local replaces and takes the api module at the published version.
build_controller() {
  local name="$1" version="$2"
  local module="github.com/fluxcd/$name"
  [[ -x "$out.tmp/$name" ]] && return
  log "building $name $version"
  local work="$cache/src/flux-$name-$version"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  local info gomod dir
  info="$(go mod download -json "$module@$version")"
  gomod="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["GoMod"])' "$info")"
  dir="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["Dir"])' "$info")"
  go mod edit -json "$gomod" | python3 -c '
import json, sys
mod, module, version = json.load(sys.stdin), sys.argv[1], sys.argv[2]
print("module ramp.dev/testbed/flux-%s\n" % module.rsplit("/", 1)[1])
print("go %s\n" % mod["Go"])
print("require", module, version)
for req in mod["Require"]:
    print("require", req["Path"], req["Version"])
for rep in mod.get("Replace") or []:
    old, new = rep["Old"]["Path"], rep["New"]
    if new["Path"].startswith("."):
        # ./api: the api module published with the controller.
        print("replace", old, "=>", old, version)
    else:
        print("replace", old, "=>", new["Path"], new["Version"])
' "$module" "$version" > go.mod
  cp "$dir/go.sum" go.sum
  chmod u+w go.sum
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$module" > tools.go
  # No `go mod tidy`: it would fetch the controller's test-only modules too, and the proxy
  # does not serve all of them. The build needs only what the binary imports.
  go build -trimpath -ldflags "-s -w" -o "$out.tmp/$name" "$module"
  mkdir -p "$out.tmp/crds"
  cp "$dir"/config/crd/bases/*.yaml "$out.tmp/crds/"
  chmod u+w "$out.tmp/crds/"*.yaml
}

if [[ ! -x "$out/source-controller" || ! -x "$out/kustomize-controller" ]]; then
  mkdir -p "$out.tmp"
  build_controller source-controller "$FLUX_SOURCE_CONTROLLER_VERSION"
  build_controller kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
