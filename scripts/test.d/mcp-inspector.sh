#!/usr/bin/env bash
# Installs the MCP Inspector CLI (a real MCP client from npm) for the
# end-to-end test of `ipai mcp` (internal/mcpserver/e2e_test.go). It lives
# outside the repository, in ~/.cache/ipai/mcp-inspector; running this again
# does nothing when it is there.
set -euo pipefail
dir="${IPAI_MCP_INSPECTOR_DIR:-$HOME/.cache/ipai/mcp-inspector}"
version="${IPAI_MCP_INSPECTOR_VERSION:-0.15.0}" # the version the e2e test was made with (runs on Node 20)
bin="$dir/node_modules/.bin/mcp-inspector"
if [ -x "$bin" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "mcp-inspector.sh: npm is missing; install Node.js (apt-get install -y nodejs npm) and run again" >&2
  exit 1
fi
mkdir -p "$dir"
pkg="@modelcontextprotocol/inspector${version:+@$version}"
echo "mcp-inspector.sh: installing $pkg into $dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$pkg" >/dev/null
test -x "$bin"
