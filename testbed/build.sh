#!/usr/bin/env bash
# Builds the real control-plane binaries from the Go module proxy into a cache outside the
# repository, keyed by version, and installs Prometheus from Debian when it is missing.
# Prints the directory holding the binaries on its last line.
#
#   build.sh [all|cluster|STEP...]
#
# `cluster` is what testbed/cluster.py runs (and so `make demo`): the control plane, etcd, kwok
# and Prometheus. `all` (the default, `make binaries`, `make test`) adds what only tests and
# benchmarks use: helm, lua, Flux's controllers and the flagd-eval harness. Each step that is
# not cached says how long it takes cold before it starts, and how long it took after.
# The cache is $RAMP_TESTBED_CACHE, else $XDG_CACHE_HOME/ramp-testbed, else ~/.cache/ramp-testbed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${RAMP_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ramp-testbed}"
bin="$cache/bin"
mkdir -p "$cache" "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
export GOPATH="${GOPATH:-$HOME/go}"

log() { printf '[testbed] %s\n' "$*" >&2; }

# What a cold step takes on 2 free cores with empty Go caches (README, "How long it takes":
# measured, the split taken from a timed cold run); a busy machine takes several times longer.
declare -A EXPECTED=(
  [kubernetes]="about 10 min on 2 free cores"
  [etcd]="about 1 min"
  [kwok]="about 2 min"
  [helm]="about 2 min"
  [prometheus]="under 1 min, apt-get"
  [lua]="under 1 min, apt-get"
  [flux]="about 5 min"
  [flagd]="about 1 min"
)

# One build at a time: a second caller waits for the first instead of racing it.
exec 9>"$cache/.build.lock"
flock 9

build_kubernetes() {
  local out="$cache/kubernetes-$KUBERNETES_VERSION"
  if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" ]]; then
    return
  fi
  log "building kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION (${EXPECTED[kubernetes]})"
  local work="$cache/src/kubernetes-$KUBERNETES_VERSION"
  local staging="v0${KUBERNETES_VERSION#v1}"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  # kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging; the
  # wrapper replaces exactly those with their published versions.
  go mod edit -json "$gomod" | python3 -c '
import json, sys
mod = json.load(sys.stdin)
print("module ramp.dev/testbed/kubernetes\n\ngo 1.24\n")
print("godebug default=go1.24\n")
print("require k8s.io/kubernetes '"$KUBERNETES_VERSION"'\n")
for req in mod["Require"]:
    if req["Version"] == "v0.0.0" and req["Path"].startswith("k8s.io/"):
        print("replace", req["Path"], "=>", req["Path"], "'"$staging"'")
' > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  go mod tidy
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$out.tmp"
  go build -trimpath -tags selinux,notest -ldflags "$ld" -o "$out.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_etcd() {
  local out="$cache/etcd-$ETCD_VERSION"
  [[ -x "$out/etcd" ]] && return
  log "building etcd $ETCD_VERSION (${EXPECTED[etcd]})"
  local work="$cache/src/etcd-$ETCD_VERSION"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  # etcd's server module replaces its siblings with relative paths, which `go install` refuses;
  # in a wrapper those replaces do not apply and the published siblings are used instead.
  cat > go.mod <<MOD
module ramp.dev/testbed/etcd

go 1.23

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy
  mkdir -p "$out.tmp"
  go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_kwok() {
  local out="$cache/kwok-$KWOK_VERSION"
  [[ -x "$out/kwok" ]] && return
  log "building kwok $KWOK_VERSION (${EXPECTED[kwok]})"
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_helm() {
  local out="$cache/helm-$HELM_VERSION"
  [[ -x "$out/helm" ]] && return
  log "building helm $HELM_VERSION (${EXPECTED[helm]})"
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

install_prometheus() {
  command -v prometheus >/dev/null && return
  [[ -x /usr/bin/prometheus ]] && return
  log "installing prometheus from Debian (${EXPECTED[prometheus]})"
  local sudo=""
  [[ "$(id -u)" != 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  # --no-install-recommends keeps node-exporter and friends off the machine; the packaged
  # service is not used, the testbed runs the binary with its own config.
  $sudo apt-get install -y -qq --no-install-recommends prometheus >&2
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
}

# Argo CD runs resource health checks in a Lua 5.1; the tests run Ramp's with Debian's.
install_lua() {
  lua5.1 -e 'require("cjson")' >/dev/null 2>&1 && return
  log "installing lua5.1 and lua-cjson from Debian (${EXPECTED[lua]})"
  local sudo=""
  [[ "$(id -u)" != 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends lua5.1 lua-cjson >&2
}

link() {
  ln -sf "$1" "$bin/$(basename "$1")"
}

built_flux() {
  [[ -x "$cache/flux-$FLUX_SOURCE_CONTROLLER_VERSION-$FLUX_KUSTOMIZE_CONTROLLER_VERSION/kustomize-controller" ]]
}

build_flux() {
  built_flux && return
  log "building Flux source-controller and kustomize-controller (${EXPECTED[flux]})"
  bash "$here/build-flux.sh" >/dev/null
}

build_flagd() {
  local found
  found="$(bash "$here/build-flagd.sh")"
  link "$found"
}

# step NAME: run build_NAME or install_NAME; one that had work to do says how long it took.
step() {
  local name="$1" began=$SECONDS
  if declare -F "build_$name" >/dev/null; then "build_$name"; else "install_$name"; fi
  if ((SECONDS - began >= 2)); then
    log "$name done in $((SECONDS - began)) s"
  fi
}

main() {
  local steps=()
  [[ $# -eq 0 ]] && set -- all
  for arg in "$@"; do
    case "$arg" in
      all) steps+=(kubernetes etcd kwok prometheus helm lua flux flagd) ;;
      cluster) steps+=(kubernetes etcd kwok prometheus) ;;
      kubernetes|etcd|kwok|prometheus|helm|lua|flux|flagd) steps+=("$arg") ;;
      *) log "unknown step $arg: give all, cluster, or some of kubernetes etcd kwok prometheus helm lua flux flagd"; exit 2 ;;
    esac
  done
  for name in "${steps[@]}"; do
    (step "$name")
  done
  for f in "$cache/kubernetes-$KUBERNETES_VERSION"/* "$cache/etcd-$ETCD_VERSION/etcd" \
           "$cache/kwok-$KWOK_VERSION/kwok" "$cache/helm-$HELM_VERSION/helm"; do
    [[ -x "$f" ]] && link "$f"
  done
  echo "$bin"
}

main "$@"
