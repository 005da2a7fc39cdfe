package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations for a backend kind, in order. A
// file NNNN_name.sql serves both backends; NNNN_name.postgres.sql or
// NNNN_name.sqlite.sql serves only the one it names.
func Migrations(kind string) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		for _, k := range []string{SQLite, Postgres} {
			if strings.HasSuffix(name, "."+k) {
				if k != kind {
					name = ""
					break
				}
				name = strings.TrimSuffix(name, "."+k)
			}
		}
		if name == "" {
			continue
		}
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_description.sql", e.Name())
		}
		if prev, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev.Name, rest, v)
		}
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		byVersion[v] = Migration{Version: v, Name: rest, SQL: string(body)}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS ipai_schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// SchemaError says the database's schema does not fit this binary.
type SchemaError struct {
	DBVersion, BinaryVersion int
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this ipai binary knows (%d): "+
		"run a newer ipai against this database, or restore a backup made with this version", e.DBVersion, e.BinaryVersion)
}

// Migrate applies the migrations the database lacks, each in its own
// transaction, holding a lock so concurrent starts migrate once. It refuses a
// database whose schema is newer than the binary. It returns the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	ms, err := Migrations(db.kind)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("create migrations table: %w", err)
	}
	var applied []int
	for _, m := range ms {
		done := false
		err := db.InTx(ctx, func(tx *Tx) error {
			if err := tx.Lock(ctx, "ipai_migrate"); err != nil {
				return err
			}
			have, err := appliedVersions(ctx, tx)
			if err != nil {
				return err
			}
			if max := maxKey(have); max > ms[len(ms)-1].Version {
				return &SchemaError{DBVersion: max, BinaryVersion: ms[len(ms)-1].Version}
			}
			if have[m.Version] {
				done = true
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			_, err = tx.Exec(ctx, "INSERT INTO ipai_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, Micros(time.Now()))
			return err
		})
		if err != nil {
			return applied, err
		}
		if !done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// SchemaStatus reports the database's schema version and whether it is
// exactly what this binary expects (every embedded migration applied, none unknown).
func (db *DB) SchemaStatus(ctx context.Context) (version int, current bool, err error) {
	ms, err := Migrations(db.kind)
	if err != nil {
		return 0, false, err
	}
	have, err := appliedVersions(ctx, db)
	if err != nil {
		return 0, false, err
	}
	version = maxKey(have)
	if len(have) != len(ms) {
		return version, false, nil
	}
	for _, m := range ms {
		if !have[m.Version] {
			return version, false, nil
		}
	}
	return version, true, nil
}

func appliedVersions(ctx context.Context, q Querier) (map[int]bool, error) {
	rows, err := q.Query(ctx, "SELECT version FROM ipai_schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	defer rows.Close()
	have := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		have[v] = true
	}
	return have, rows.Err()
}

func maxKey(m map[int]bool) int {
	max := 0
	for k := range m {
		if k > max {
			max = k
		}
	}
	return max
}
