#!/usr/bin/env bash
# Installs schemathesis (PyPI) for the fuzz test of the REST API from its
# OpenAPI document (internal/app/openapi_fuzz_test.go). It lives outside the
# repository, in a virtualenv under ~/.cache/ipai/schemathesis; running this
# again does nothing when it is there.
set -euo pipefail
dir="${IPAI_SCHEMATHESIS_DIR:-$HOME/.cache/ipai/schemathesis}"
version="${IPAI_SCHEMATHESIS_VERSION:-4.32.5}" # the version the test was made with
bin="$dir/bin/schemathesis"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "version $version\$"; then
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "schemathesis.sh: python3 is missing; install it (apt-get install -y python3 python3-venv) and run again" >&2
  exit 1
fi
echo "schemathesis.sh: installing schemathesis $version into $dir"
python3 -m venv "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
test -x "$bin"
