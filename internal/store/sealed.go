package store

import (
	"context"
	"fmt"
	"strings"
)

// SealedData describes what the database holds sealed under a master key
// (e.g. "2 connector(s) with secrets, 1 webhook secret(s)"); "" when
// nothing is. A missing master key must not be replaced while it is not "".
func (db *DB) SealedData(ctx context.Context) (string, error) {
	var parts []string
	for _, q := range []struct{ what, sql string }{
		{"connector(s) with secrets", "SELECT COUNT(*) FROM connectors WHERE secrets NOT IN ('', '{}', 'null')"},
		{"webhook secret(s)", "SELECT COUNT(*) FROM webhooks WHERE secret_sealed <> ''"},
		{"endpoint(s) with sealed headers", "SELECT COUNT(*) FROM webhooks WHERE spec LIKE '%\"sealed_headers\"%'"},
		{"bot token(s)", "SELECT COUNT(*) FROM bots WHERE token_sealed <> ''"},
		{"slash command token(s)", "SELECT COUNT(*) FROM bot_commands WHERE token_sealed <> ''"},
		{"chatops key(s)", "SELECT COUNT(*) FROM chatops_keys"},
	} {
		var n int64
		if err := db.QueryRow(ctx, q.sql).Scan(&n); err != nil {
			return "", fmt.Errorf("count %s: %w", q.what, err)
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, q.what))
		}
	}
	return strings.Join(parts, ", "), nil
}
