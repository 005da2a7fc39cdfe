#!/usr/bin/env bash
# The real Keycloak the SSO and connector tests run against (cached in ~/.cache/ipai/keycloak).
exec bash "$(dirname "$0")/../keycloak-install.sh"
