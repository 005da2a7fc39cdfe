// Package stack deploys and operates the ipai ops stack on one machine:
// `init` writes a complete docker compose deployment (compose file, Caddyfile,
// PostgreSQL init, Superset and Keycloak config, generated secrets), and the
// compose runner drives it (up, down, logs, ps). Health checks live in
// stack/probe, backup and restore in stack/backup.
package stack
