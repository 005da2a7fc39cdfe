package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.MainNoLeaks(m) }

type backend struct {
	kind string
	url  string
}

func backends(t *testing.T) []backend {
	return []backend{{store.SQLite, storetest.URL(t, store.SQLite)}, {store.Postgres, storetest.URL(t, store.Postgres)}}
}

func open(t testing.TB, url string) *store.DB { return storetest.Open(t, url) }

// writeConcurrently writes n entries from each of w goroutines.
func writeConcurrently(t *testing.T, l *Log, w, n int, at func(i int) time.Time, level func(i int) string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, w*n)
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				k := g*n + i
				if err := l.Write(context.Background(), Entry{At: at(k), Actor: fmt.Sprintf("w%d", g), Action: "test.write",
					Level: level(k), Target: "t", Message: fmt.Sprintf("entry %d", k)}); err != nil {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func now(int) time.Time { return time.Now() }
func info(int) string   { return Info }
func mustVerify(t *testing.T, db *store.DB) Report {
	t.Helper()
	rep, err := Verify(context.Background(), db)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	return rep
}

func TestConcurrentWritersKeepOneChain(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.kind, func(t *testing.T) {
			db := open(t, b.url)
			l := New(db)
			defer l.Close()
			writeConcurrently(t, l, 8, 50, now, info)
			rep := mustVerify(t, db)
			if rep.Entries != 400 || rep.HeadSeq != 400 {
				t.Fatalf("report %+v; want 400 entries ending at seq 400", rep)
			}
		})
	}
}

func TestTwoProcessesOnPostgresDoNotFork(t *testing.T) {
	url := testpg.URL(t)
	db1, db2 := open(t, url), open(t, url)
	l1, l2 := New(db1), New(db2)
	defer l1.Close()
	defer l2.Close()
	var wg sync.WaitGroup
	for _, l := range []*Log{l1, l2} {
		wg.Add(1)
		go func(l *Log) { defer wg.Done(); writeConcurrently(t, l, 4, 50, now, info) }(l)
	}
	wg.Wait()
	if rep := mustVerify(t, db1); rep.Entries != 400 {
		t.Fatalf("entries = %d; want 400", rep.Entries)
	}
}

func TestVerifyNamesTheTamperedEntry(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.kind, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, b.url)
			l := New(db)
			writeConcurrently(t, l, 1, 20, now, info)
			l.Close()
			mustVerify(t, db)

			if _, err := db.Exec(ctx, "UPDATE audit_log SET message = 'nothing happened' WHERE seq = 7"); err != nil {
				t.Fatal(err)
			}
			_, err := Verify(ctx, db)
			var p *Problem
			if !errors.As(err, &p) || p.Seq != 7 {
				t.Fatalf("after editing entry 7: err = %v; want a problem at 7", err)
			}
			if _, err := db.Exec(ctx, "DELETE FROM audit_log WHERE seq IN (3, 7)"); err != nil {
				t.Fatal(err)
			}
			_, err = Verify(ctx, db)
			if !errors.As(err, &p) || p.Seq != 4 {
				t.Fatalf("after deleting entry 3: err = %v; want a problem at 4", err)
			}
			// A purge must not launder the tampering.
			if _, err := Purge(ctx, db, time.Hour, time.Now().Add(48*time.Hour)); err == nil {
				t.Fatal("purge ran on a broken chain")
			}
		})
	}
}

func TestPurgeKeepsWarningsAndChainVerifiable(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.kind, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, b.url)
			l := New(db)
			old := time.Now().Add(-100 * 24 * time.Hour)
			level := func(i int) string {
				switch i % 5 {
				case 0:
					return Warning
				case 1:
					return Debug
				case 2:
					return Error
				}
				return Info
			}
			// 30 old entries then 10 recent ones.
			writeConcurrently(t, l, 1, 30, func(i int) time.Time { return old.Add(time.Duration(i) * time.Second) }, level)
			writeConcurrently(t, l, 1, 10, now, level)
			l.Close()
			res, err := Purge(ctx, db, 90*24*time.Hour, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if res.Deleted != 18 { // old debug+info: 3 of every 5 of 30
				t.Fatalf("deleted %d; want 18", res.Deleted)
			}
			rep := mustVerify(t, db)
			if rep.Entries != 40-18+1 || rep.Gaps == 0 {
				t.Fatalf("after purge: %+v", rep)
			}
			var warnings int
			for _, lv := range []string{Warning, Error} {
				rows, _ := db.ListAudit(ctx, store.AuditFilter{Level: lv, Limit: 1000})
				warnings += len(rows)
			}
			if warnings != 16 {
				t.Fatalf("kept %d warning/error entries; want all 16", warnings)
			}
			// A second purge with nothing to delete changes nothing.
			if res, err := Purge(ctx, db, 90*24*time.Hour, time.Now()); err != nil || res.Deleted != 0 {
				t.Fatalf("second purge: %+v %v", res, err)
			}
			// Deleting a kept warning after the purge is still detected.
			if _, err := db.Exec(ctx, "DELETE FROM audit_log WHERE seq = 6"); err != nil {
				t.Fatal(err)
			}
			var p *Problem
			if _, err := Verify(ctx, db); !errors.As(err, &p) || p.Seq != 8 {
				t.Fatalf("after deleting kept entry 6: %v; want a problem at entry 8", err)
			}
		})
	}
}

func TestWriteRejectsBadEntries(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "a.db"))
	l := New(db)
	defer l.Close()
	if err := l.Write(context.Background(), Entry{Level: Info}); err == nil {
		t.Fatal("entry without action accepted")
	}
	if err := l.Write(context.Background(), Entry{Action: "x", Level: "loud"}); err == nil {
		t.Fatal("entry with level loud accepted")
	}
}

// Text from outside (a header, a service's error) that is not valid UTF-8 or
// holds a NUL is stored as the store keeps text, and the chain still
// verifies: it hashes what is stored.
func TestEntriesWithBytesThatAreNotText(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.kind, func(t *testing.T) {
			db := open(t, b.url)
			l := New(db)
			defer l.Close()
			e := Entry{Actor: "bot\xff", Action: "x.y", Target: "t\x00", Message: "caf\xe9 \x00", URL: "/p\xfe"}
			if err := l.Write(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if err := l.Write(context.Background(), Entry{Action: "x.z", Message: "next"}); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, db)
			var msg, actor string
			if err := db.QueryRow(context.Background(), "SELECT message, actor FROM audit_log WHERE action = 'x.y'").Scan(&msg, &actor); err != nil {
				t.Fatal(err)
			}
			if msg != "caf\uFFFD " || actor != "bot\uFFFD" {
				t.Fatalf("stored %q by %q", msg, actor)
			}
		})
	}
}

// An entry the database refuses fails alone: the entries that shared its
// group commit are appended, and the chain verifies. (A trigger stands for
// whatever the database may refuse: text is already made storable.)
func TestRefusedEntryDoesNotFailItsBatch(t *testing.T) {
	db := open(t, testpg.URL(t))
	ctx := context.Background()
	for _, q := range []string{
		`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.message = 'refuse me') EXECUTE FUNCTION refuse()`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	l := New(db)
	defer l.Close()
	// Several writers' entries in one batch with the bad one.
	var reqs []*request
	for _, msg := range []string{"first", "refuse me", "third"} {
		row, err := l.row(Entry{Action: "x.y", Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, &request{rows: []*store.AuditRow{row}, err: make(chan error, 1)})
	}
	l.commit(reqs)
	for i, r := range reqs {
		err := <-r.err
		if (i == 1) != (err != nil) {
			t.Fatalf("entry %d: %v; want only entry 1 refused", i, err)
		}
	}
	if rep := mustVerify(t, db); rep.Entries != 2 {
		t.Fatalf("%d entries; want the 2 good ones", rep.Entries)
	}
}
