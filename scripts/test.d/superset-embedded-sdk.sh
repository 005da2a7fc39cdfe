#!/usr/bin/env bash
# Installs the real Superset embedded SDK (@superset-ui/embedded-sdk from
# npm, pinned) for the browser test of the embed page against the real
# Superset (internal/testsuperset, TestEmbedPageRealSDK). It lives outside the
# repository, in ~/.cache/ipai/superset-embedded-sdk; the bundle the test
# serves as the hub's /embed/sdk.js is
# node_modules/@superset-ui/embedded-sdk/bundle/index.js there. Running this
# again does nothing when that version is there.
set -euo pipefail
dir="${IPAI_SUPERSET_SDK_DIR:-$HOME/.cache/ipai/superset-embedded-sdk}"
version=0.4.0 # the SDK release current with Superset 6.1.0, which the test was made with
pkgdir="$dir/node_modules/@superset-ui/embedded-sdk"
if [ -f "$pkgdir/bundle/index.js" ] && grep -q "\"version\": \"$version\"" "$pkgdir/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "superset-embedded-sdk.sh: npm is missing; install Node.js (apt-get install -y nodejs npm) and run again" >&2
  exit 1
fi
mkdir -p "$dir"
echo "superset-embedded-sdk.sh: installing @superset-ui/embedded-sdk@$version into $dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@superset-ui/embedded-sdk@$version" >/dev/null
test -f "$pkgdir/bundle/index.js"
