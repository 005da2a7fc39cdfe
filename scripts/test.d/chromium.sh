#!/usr/bin/env bash
# Installs Debian's chromium for the admin UI's browser tests
# (internal/ui/browser_test.go, driven by chromedp). The tests fail without
# it unless IPAI_SKIP_BROWSER=1. Running this again does nothing when it is there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: chromium is missing: install it (sudo apt-get install -y chromium) and run again" >&2
  exit 1
fi
echo "chromium.sh: installing chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
