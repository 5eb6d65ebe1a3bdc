#!/usr/bin/env bash
# Installs Debian's headless Chromium and its WebDriver when missing: the dashboard's browser
# tests drive the system Chromium through Selenium (no browser is downloaded at test time).
set -euo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
printf '[testbed] %s\n' "installing chromium and chromium-driver from Debian" >&2
sudo=""
[[ "$(id -u)" != 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another apt user (a parallel build step) holds the lock for a while: wait for it.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
  chromium chromium-driver fonts-dejavu-core >&2
