#!/usr/bin/env bash
# The real Apache Superset the Superset tests run against (cached in ~/.cache/ipai/superset).
exec bash "$(dirname "$0")/../superset-install.sh"
