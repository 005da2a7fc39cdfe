#!/usr/bin/env bash
# superset-install.sh installs the real Apache Superset used by the Superset
# integration tests (internal/testsuperset): apache-superset 6.1.0 from PyPI in
# a Python 3.11 virtualenv, every dependency pinned by
# scripts/superset-constraints.txt, plus psycopg2-binary so Superset can reach
# the tests' throwaway PostgreSQL, and rich, which Superset 6.1.0's CLI
# imports without declaring it, and cachetools, which its db_engine_specs import
# without declaring it (every database connection fails "Could not load database
# driver" without it).
#
# Everything goes under ${IPAI_SUPERSET_HOME:-~/.cache/ipai/superset} (never
# the repo), with pip's cache in ~/.cache/ipai/pip. Idempotent: when the
# install is complete (marker file present) it only prints where it is.
set -euo pipefail

SUPERSET_VERSION=6.1.0
here=$(cd "$(dirname "$0")" && pwd)
CONSTRAINTS="$here/superset-constraints.txt"
SUPERSET_HOME=${IPAI_SUPERSET_HOME:-$HOME/.cache/ipai/superset}
sum=$(sha256sum "$CONSTRAINTS" | cut -c1-12)
MARKER="$SUPERSET_HOME/.installed-superset-$SUPERSET_VERSION-$sum"
VENV="$SUPERSET_HOME/venv"

if [[ -f "$MARKER" && -x "$VENV/bin/superset" ]]; then
	echo "superset-install: superset $SUPERSET_VERSION already installed in $SUPERSET_HOME"
	exit 0
fi

find_python() {
	for c in python3.11 /usr/bin/python3.11 /usr/local/bin/python3.11; do
		if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import venv, ensurepip' >/dev/null 2>&1; then
			command -v "$c"
			return
		fi
	done
}
PY=${IPAI_PYTHON311:-$(find_python)}
if [[ -z "$PY" && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "superset-install: installing python3.11 python3.11-venv"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3.11 python3.11-venv
	PY=$(find_python)
fi
if [[ -z "$PY" ]]; then
	echo "superset-install: Python 3.11 with venv is required (apt-get install python3.11 python3.11-venv, or set IPAI_PYTHON311)" >&2
	exit 1
fi

echo "superset-install: apache-superset $SUPERSET_VERSION into $VENV (takes minutes the first time)"
mkdir -p "$SUPERSET_HOME"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-$HOME/.cache/ipai/pip}
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/pip" install -q --prefer-binary -c "$CONSTRAINTS" "apache-superset==$SUPERSET_VERSION" psycopg2-binary rich cachetools
SUPERSET_HOME="$SUPERSET_HOME/check" SUPERSET_SECRET_KEY=install-check-only "$VENV/bin/superset" version
rm -f "$SUPERSET_HOME"/.installed-superset-*
touch "$MARKER"
echo "superset-install: done: $SUPERSET_HOME"
