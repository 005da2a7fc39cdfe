// Package store is ipai's data layer: one SQL implementation that runs on
// two backends through database/sql — SQLite (modernc.org/sqlite, pure Go,
// the embedded default) and PostgreSQL (pgx). Queries are written once with
// `?` placeholders and rebound to `$n` on PostgreSQL; migrations are
// embedded SQL files in the subset both accept.
//
// Conventions: times are BIGINT Unix microseconds in UTC (Micros, Time),
// ids are TEXT generated in Go, JSON is stored as TEXT.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Kinds of backend.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Errors callers may test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// DefaultURL is the database used when none is configured.
const DefaultURL = "./data/ipai.db"

// DB is an open store.
type DB struct {
	sql     *sql.DB
	pool    *pgxpool.Pool // PostgreSQL only
	kind    string
	path    string // SQLite file
	rebinds sync.Map
}

// Open opens the database named by url: "postgres://…" or "postgresql://…"
// selects PostgreSQL; "sqlite:PATH" or a plain file path selects SQLite (its
// directory is created). It does not migrate; call Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	if url == "" {
		url = DefaultURL
	}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("database URL %q: unknown scheme; use postgres://… for PostgreSQL or a file path (or sqlite:PATH) for SQLite", redactURL(url))
	default:
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
	}
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %v", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", redactURL(url), err)
	}
	return &DB{sql: stdlib.OpenDBFromPool(pool), pool: pool, kind: Postgres}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// WAL with synchronous=FULL: a committed transaction survives power loss.
	// One connection: SQLite has one writer; the busy timeout covers other
	// processes (e.g. `ipai token create` next to a running server).
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{sql: db, kind: SQLite, path: path}, nil
}

// Kind is SQLite or Postgres.
func (db *DB) Kind() string { return db.kind }

// SQL returns the underlying database/sql handle.
func (db *DB) SQL() *sql.DB { return db.sql }

// Pool returns the pgx pool (nil on SQLite).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the database.
func (db *DB) Close() error {
	err := db.sql.Close()
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Stats reports the connection pool's state.
func (db *DB) Stats() sql.DBStats { return db.sql.Stats() }

// Exec runs a statement.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := db.sql.ExecContext(ctx, db.rebind(q), texts(args)...)
	return r, mapErr(err)
}

// Query runs a query returning rows.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r, err := db.sql.QueryContext(ctx, db.rebind(q), texts(args)...)
	return r, mapErr(err)
}

// QueryRow runs a query returning at most one row.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *Row {
	return &Row{db.sql.QueryRowContext(ctx, db.rebind(q), texts(args)...)}
}

// Text returns s as both backends store it: invalid UTF-8 becomes U+FFFD
// and NUL bytes are dropped. PostgreSQL text holds neither (it would refuse
// the whole statement — a batch of outcomes, say, for one receiver's binary
// answer), and SQLite would keep them, so the backends would differ. Every
// string argument of Exec, Query and QueryRow passes through it; callers
// that hash or sign text must hash Text(s), as the audit log does.
func Text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// texts applies Text to string and []string arguments, copying args (and
// a []string) only when something changes.
func texts(args []any) []any {
	out := args
	set := func(i int, v any) {
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = v
	}
	for i, a := range args {
		switch v := a.(type) {
		case string:
			if t := Text(v); t != v {
				set(i, t)
			}
		case []string:
			var c []string
			for j, s := range v {
				if t := Text(s); t != s {
					if c == nil {
						c = append([]string(nil), v...)
					}
					c[j] = t
				}
			}
			if c != nil {
				set(i, c)
			}
		}
	}
	return out
}

// Tx is a transaction with the same query methods as DB.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// Kind is the backend of the transaction's database.
func (tx *Tx) Kind() string { return tx.db.kind }

// SQL returns the underlying *sql.Tx (for libraries that join the transaction).
func (tx *Tx) SQL() *sql.Tx { return tx.tx }

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := tx.tx.ExecContext(ctx, tx.db.rebind(q), texts(args)...)
	return r, mapErr(err)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r, err := tx.tx.QueryContext(ctx, tx.db.rebind(q), texts(args)...)
	return r, mapErr(err)
}

// QueryRow runs a single-row query in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *Row {
	return &Row{tx.tx.QueryRowContext(ctx, tx.db.rebind(q), texts(args)...)}
}

// Row wraps sql.Row so that "no rows" becomes ErrNotFound.
type Row struct{ r *sql.Row }

// Scan copies the row's columns into dest; ErrNotFound when there is no row.
func (r *Row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return mapErr(err)
}

// Querier is what DB and Tx have in common.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. On SQLite the transaction takes the write lock at BEGIN.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	t, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(&Tx{tx: t, db: db}); err != nil {
		_ = t.Rollback()
		return err
	}
	return mapErr(t.Commit())
}

// Lock takes a transaction-scoped lock named by key, serialising writers
// across processes (PostgreSQL advisory lock; on SQLite the transaction
// already holds the database's write lock).
func (tx *Tx) Lock(ctx context.Context, key string) error {
	if tx.db.kind != Postgres {
		return nil
	}
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", key)
	return err
}

// rebind turns `?` placeholders into `$1…$n` on PostgreSQL.
func (db *DB) rebind(q string) string {
	if db.kind != Postgres || !strings.Contains(q, "?") {
		return q
	}
	if v, ok := db.rebinds.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	out := b.String()
	db.rebinds.Store(q, out)
	return out
}

// Refused reports whether the database refused the data itself — a value
// it cannot hold, a violated constraint, a size limit — rather than failing: the same data
// cannot succeed on a retry, while other rows of the same batch may.
func Refused(err error) bool {
	if errors.Is(err, ErrConflict) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code[:2] {
		case "22", "23", "54": // data exception, integrity violation, a limit (e.g. an index entry's size)
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH:
			return true
		}
	}
	return false
}

// mapErr turns unique violations into ErrConflict (keeping the detail).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pg.Detail)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", ErrConflict, se.Error())
		}
	}
	return err
}

// IsConflict reports a unique violation.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// Micros converts a time to the stored form (Unix microseconds, UTC).
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Time converts the stored form back; 0 is the zero time.
func Time(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// NullMicros is Micros for optional columns: the zero time becomes NULL.
func NullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	creds := u[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return u[:scheme+3] + creds[:i] + ":***" + u[at:]
	}
	return u
}

// Redact hides the password of a database URL for messages and logs.
func Redact(u string) string { return redactURL(u) }
