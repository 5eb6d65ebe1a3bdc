#!/usr/bin/env bash
# Builds the operator image `localhost/ramp:dev` with buildah from the repository's Dockerfile,
# without a Docker engine and without a container registry:
#
#   1. the base image is a minimal Debian root filesystem bootstrapped by mmdebstrap from Debian's
#      packages (python3, python3-venv, ca-certificates), imported into the local image store as
#      localhost/ramp-base:<key>, where <key> hashes the exact package versions it holds;
#   2. the Dockerfile is built on it through its PYTHON_IMAGE build argument, with layer caching.
#
# The root filesystem tarball is cached outside the repository, keyed like the image; a second
# run resolves the package versions again (a few seconds) and rebuilds nothing when they match.
# Installs podman, buildah, mmdebstrap and runc from Debian when one is missing. Needs root.
# Prints the image reference on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

image="${RAMP_IMAGE:-localhost/ramp:dev}"
suite=bookworm
mirror="${RAMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${RAMP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# What the Dockerfile needs of its base beyond Debian's essential set: a Python with venv
# (ensurepip), and CA certificates for the operator's HTTPS calls to Prometheus and webhooks.
base_packages=(python3 python3-venv ca-certificates)

cache="${RAMP_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ramp-testbed}/image"
mkdir -p "$cache"

log() { printf '[image] %s\n' "$*" >&2; }

if [[ "$(id -u)" != 0 ]]; then
  log "needs root: mmdebstrap bootstraps in root mode and buildah/podman use the root image store"
  exit 1
fi

# One build at a time: a second caller waits for the first instead of racing it.
exec 9>"$cache/.build.lock"
flock 9

install_tools() {
  local missing=()
  for tool in podman buildah mmdebstrap runc; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) && return
  log "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # No recommends: the image is built and run with host networking, so no network plugins.
  apt-get install -y -qq --no-install-recommends podman buildah mmdebstrap runc >&2
}

sources() {
  local signed="[signed-by=$keyring]"
  printf 'deb %s %s %s main\n' "$signed" "$mirror" "$suite"
  printf 'deb %s %s %s-updates main\n' "$signed" "$mirror" "$suite"
  printf 'deb %s %s %s-security main\n' "$signed" "$security_mirror" "$suite"
}

# The packages (name=version) a bootstrap would install today: apt resolves Debian's essential
# set plus base_packages against the same sources, in a private state with nothing installed.
resolve_base_packages() {
  local apt="$cache/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d"
  sources >"$apt/sources.list"
  : >"$apt/status"
  local opts=(
    -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
    -o "Dir::Cache=$apt/cache" -o "Debug::NoLocking=1" -o "APT::Get::List-Cleanup=1"
    # As mmdebstrap's essential variant selects: Essential:yes packages of the suite itself,
    # without the apt that apt counts as essential by default.
    -o "pkgCacheGen::ForceEssential=,"
    -o "APT::Sandbox::User=root"
  )
  local arch essential
  arch="$(dpkg --print-architecture)"
  essential="?narrow(?or(?archive(^$suite\$),?codename(^$suite\$)),?architecture($arch),?essential)"
  # The package lists are refreshed twice a day: a build in between reuses what they resolve to.
  if [[ -z "$(find "$apt/lists" -maxdepth 1 -name '*InRelease' -mmin -720 -print -quit)" ]]; then
    apt-get "${opts[@]}" update -qq >&2
  fi
  apt-get "${opts[@]}" --simulate --no-install-recommends install "$essential" "${base_packages[@]}" \
    | awk '/^Inst / { gsub(/[()]/, "", $3); print $2 "=" $3 }' | sort
}

bootstrap_base() {
  local key="$1" manifest="$2"
  local tarball="$cache/base-$key.tar"
  if [[ ! -s "$tarball" ]]; then
    log "bootstrapping the $suite base (${base_packages[*]}) with mmdebstrap"
    local sources_args=()
    while IFS= read -r line; do sources_args+=("$line"); done < <(sources)
    # Documentation and translations are of no use in an operator image. The hooks run in
    # mmdebstrap's shell, with the root filesystem as $1.
    # shellcheck disable=SC2016
    mmdebstrap --mode=root --variant=essential --include="$(IFS=,; echo "${base_packages[*]}")" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --customize-hook='chroot "$1" dpkg-query -W -f "\${Package}=\${Version}\n" | sort > "$1/tmp/manifest"' \
      --customize-hook="copy-out /tmp/manifest $cache" \
      --customize-hook='rm "$1/tmp/manifest"' \
      "$suite" "$cache/base-$key.tmp.tar" "${sources_args[@]}" >&2
    mv "$cache/manifest" "$cache/base-$key.packages"
    mv "$cache/base-$key.tmp.tar" "$tarball"
    # The key names what apt resolved; say so if the archive moved on between the two.
    if ! diff -q "$manifest" "$cache/base-$key.packages" >/dev/null; then
      log "warning: the bootstrapped packages differ from those resolved for key $key:"
      diff "$manifest" "$cache/base-$key.packages" >&2 || true
    fi
  fi
  log "importing the base image localhost/ramp-base:$key"
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --message "Debian $suite: ${base_packages[*]} (mmdebstrap; packages in $cache/base-$key.packages)" \
    "$tarball" "localhost/ramp-base:$key" >/dev/null
}

build_image() {
  local base="$1"
  log "building $image from the Dockerfile on $base"
  # Host networking: the build reaches the Python package index as the host does; the host's CA
  # bundle is mounted for the build's RUN steps only (a TLS-inspecting proxy's CA, if any), and
  # never lands in a layer.
  local ca=()
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] &&
    ca=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  buildah build --layers --network host --isolation oci --runtime runc "${ca[@]}" \
    --build-arg "PYTHON_IMAGE=$base" --tag "$image" --file "$root/Dockerfile" "$root" >&2
  # The image this build replaced is left untagged: drop it (not the build's cached layers).
  podman image prune --force --filter label=org.opencontainers.image.title=ramp >/dev/null
}

main() {
  install_tools
  local resolved
  resolved="$(resolve_base_packages)"
  if [[ -z "$resolved" ]]; then
    log "apt resolved no packages for the base image from $mirror ($suite): is the mirror reachable?"
    exit 1
  fi
  local key
  key="$(printf '%s\n' "$suite" "$resolved" | sha256sum | cut -c1-16)"
  local manifest="$cache/resolved-$key.packages"
  printf '%s\n' "$resolved" >"$manifest"
  local base="localhost/ramp-base:$key"
  podman image exists "$base" || bootstrap_base "$key" "$manifest"
  build_image "$base"
  echo "$image"
}

main "$@"
