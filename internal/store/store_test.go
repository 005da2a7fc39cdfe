package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// forEachBackend runs fn against a fresh, migrated database on SQLite and on
// a real PostgreSQL: the conformance suite every store operation passes.
func forEachBackend(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	for _, kind := range []string{SQLite, Postgres} {
		t.Run(kind, func(t *testing.T) {
			db := openTest(t, kind)
			fn(t, db)
		})
	}
}

func openTest(t *testing.T, kind string) *DB {
	t.Helper()
	url := filepath.Join(t.TempDir(), "ipai.db")
	if kind == Postgres {
		url = testpg.URL(t)
	}
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrateIsIdempotentAndCurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, err %v; want nothing", applied, err)
		}
		v, current, err := db.SchemaStatus(ctx)
		if err != nil || !current || v == 0 {
			t.Fatalf("schema status = %d %v %v; want current", v, current, err)
		}
	})
}

// A migration named for one backend is applied only there: the dedupe
// keys' expiry index is a BRIN on PostgreSQL and stays a B-tree on SQLite,
// and both answer the purge.
func TestBackendMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		ms, err := Migrations(db.Kind())
		if err != nil {
			t.Fatal(err)
		}
		has70 := false
		for _, m := range ms {
			has70 = has70 || m.Version == 70
		}
		if has70 != (db.Kind() == Postgres) {
			t.Fatalf("%s: migration 70 listed = %v", db.Kind(), has70)
		}
		if db.Kind() != Postgres {
			return
		}
		var method string
		if err := db.QueryRow(ctx, `SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'event_keys_expires'`).Scan(&method); err != nil || method != "brin" {
			t.Fatalf("event_keys_expires is %q (%v); want brin", method, err)
		}
	})
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, "INSERT INTO ipai_schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)"); err != nil {
			t.Fatal(err)
		}
		_, err := db.Migrate(ctx)
		var se *SchemaError
		if !errors.As(err, &se) || se.DBVersion != 9999 {
			t.Fatalf("migrate on a newer database: err = %v; want SchemaError for 9999", err)
		}
		if _, current, _ := db.SchemaStatus(ctx); current {
			t.Fatal("schema reported current with an unknown migration applied")
		}
	})
}

func TestTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		tok := Token{ID: "t1", Name: "ci", Role: "admin", Prefix: "abcd", Hash: "h1", CreatedAt: now}
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		dup := tok
		dup.ID = "t2"
		if err := db.CreateToken(ctx, dup); !IsConflict(err) {
			t.Fatalf("duplicate hash: err = %v; want conflict", err)
		}
		got, err := db.TokenByHash(ctx, "h1")
		if err != nil || got.Name != "ci" || !got.CreatedAt.Equal(now) || !got.RevokedAt.IsZero() {
			t.Fatalf("TokenByHash = %+v, %v", got, err)
		}
		if _, err := db.TokenByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown hash: err = %v; want ErrNotFound", err)
		}
		if err := db.RevokeToken(ctx, "t1", now); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeToken(ctx, "t1", now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second revoke: err = %v; want ErrNotFound", err)
		}
		list, err := db.ListTokens(ctx)
		if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() {
			t.Fatalf("ListTokens = %+v, %v", list, err)
		}
	})
}

func TestAuditAppendListScan(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		seal := func(r *AuditRow) { r.Hash = r.PrevHash + "x" }
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var rows []*AuditRow
		for i := 0; i < 450; i++ {
			lvl := "info"
			if i%3 == 0 {
				lvl = "warning"
			}
			rows = append(rows, &AuditRow{At: base.Add(time.Duration(i) * time.Minute), Action: "test.act", Level: lvl, Target: "c1"})
		}
		if err := db.AppendAudit(ctx, rows, seal); err != nil {
			t.Fatal(err)
		}
		head, err := db.AuditHead(ctx)
		if err != nil || head.Seq != 450 || len(head.Hash) != 450 {
			t.Fatalf("head = %d (hash len %d), %v; want seq 450", head.Seq, len(head.Hash), err)
		}
		page, err := db.ListAudit(ctx, AuditFilter{Level: "warning", Limit: 10})
		if err != nil || len(page) != 10 || page[0].Seq != 448 {
			t.Fatalf("first warning page: %d rows, first seq %v, err %v", len(page), page, err)
		}
		next, err := db.ListAudit(ctx, AuditFilter{Level: "warning", Limit: 10, Before: page[9].Seq})
		if err != nil || len(next) != 10 || next[0].Seq != page[9].Seq-3 {
			t.Fatalf("cursor page wrong: %v %v", next, err)
		}
		since, err := db.ListAudit(ctx, AuditFilter{Since: base.Add(440 * time.Minute), Limit: 1000})
		if err != nil || len(since) != 10 {
			t.Fatalf("since filter: %d rows, %v; want 10", len(since), err)
		}
		var n int64
		if err := db.ScanAudit(ctx, func(r AuditRow) error { n++; return nil }); err != nil || n != 450 {
			t.Fatalf("scan saw %d, %v", n, err)
		}
		var deleted int64
		err = db.InTx(ctx, func(tx *Tx) error {
			if err := tx.LockAudit(ctx); err != nil {
				return err
			}
			deleted, err = tx.DeleteAudit(ctx, base.Add(30*time.Minute), []string{"debug", "info"}, "keep")
			return err
		})
		if err != nil || deleted != 20 {
			t.Fatalf("deleted %d, %v; want the 20 info entries before the cutoff", deleted, err)
		}
	})
}
