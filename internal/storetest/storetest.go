// Package storetest opens migrated stores for tests of the packages above
// the store (the store's own tests cannot import it).
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
)

// Open opens the store at url, applies the migrations and closes it when
// the test ends.
func Open(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// URL returns a fresh database of kind: a SQLite file in the test's temp
// dir, or a database in the throwaway PostgreSQL cluster.
func URL(t testing.TB, kind string) string {
	if kind == store.Postgres {
		return testpg.URL(t)
	}
	return filepath.Join(t.TempDir(), "ipai.db")
}
