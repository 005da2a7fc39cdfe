#!/usr/bin/env bash
# The real n8n the connector tests run against (cached in ~/.cache/ipai/n8n).
exec bash "$(dirname "$0")/../n8n-install.sh"
