package boardsync

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

func forEachBackend(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		t.Run(kind, func(t *testing.T) { fn(t, openDB(t, kind)) })
	}
}

func openDB(t testing.TB, kind string) *store.DB { return storetest.Open(t, storetest.URL(t, kind)) }

// clock is a settable clock for the fakes (write_date has 1 s resolution).
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Now().Add(time.Hour).Truncate(time.Second).UnixNano()) // after the seeded records
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

func newOdoo(t testing.TB, c *clock) (*fakeodoo.Server, *odoo.Client) {
	t.Helper()
	f := fakeodoo.New()
	t.Cleanup(f.Close)
	f.SetClock(c.Now)
	return f, odoo.New(f.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, f.Client())
}
