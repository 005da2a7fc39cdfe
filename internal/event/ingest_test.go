package event

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.MainNoLeaks(m) }

// A request the database refuses fails alone: the others of its batch are
// stored and answered. (Ingest hashes a key this long before it reaches a
// batch; this is the guard behind that, for refusals not foreseen.
// PostgreSQL is the backend that refuses it: an index entry over 2.7 kB.)
func TestRefusedRequestDoesNotFailItsBatch(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URL(t, store.Postgres))
	in := NewIngester(db, nil, IngesterOptions{})
	defer in.Close()
	var batch []*pending
	for i := 0; i < 8; i++ {
		r := Request{Source: "s", Type: "t", IdemKey: fmt.Sprint("k", i), Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))}
		batch = append(batch, &pending{req: r, err: make(chan error, 1)})
	}
	random := make([]byte, 6000)
	rand.Read(random) // random text does not compress into an index entry
	bad := &pending{req: Request{Source: "s", Type: "t", IdemKey: base64.StdEncoding.EncodeToString(random), Payload: []byte(`{"x":1}`)}, err: make(chan error, 1)}
	batch = append(batch[:5], append([]*pending{bad}, batch[5:]...)...)
	in.commit(batch)
	for i, p := range batch {
		err := <-p.err
		if p == bad {
			if !store.Refused(err) {
				t.Fatalf("the bad request: %v; want the database's refusal", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("request %d failed with the refused one: %v", i, err)
		}
		if _, err := db.Event(ctx, p.res.EventID); err != nil {
			t.Fatalf("request %d's event %s is not stored: %v", i, p.res.EventID, err)
		}
	}
}

// Ingest refuses what cannot be stored with a 400 and hashes keys too long
// for an index, so that they still dedupe.
func TestPrepare(t *testing.T) {
	for _, r := range []Request{
		{Type: "t", Payload: []byte("{\"x\":\"\xff\"}")},
		{Type: "t", Payload: []byte(`{"x":`)},
		{Type: "t\x00", Payload: []byte(`{}`)},
		{Type: "t", IdemKey: "k\xfe", Payload: []byte(`{}`)},
		{Type: strings.Repeat("t", maxText+1), Payload: []byte(`{}`)},
	} {
		var p *problem.Error
		if err := r.prepare(); !errors.As(err, &p) || p.Status != 400 {
			t.Errorf("prepare(%q, %q, %q) = %v; want a 400", r.Type, r.IdemKey, r.Payload, err)
		}
	}
	long := strings.Repeat("k", maxText+1)
	a, b := Request{Type: "t", IdemKey: long, Payload: []byte(`{}`)}, Request{Type: "t", IdemKey: long, Payload: []byte(`{"other":1}`)}
	if a.prepare() != nil || b.prepare() != nil || a.IdemKey != b.IdemKey || len(a.IdemKey) > maxText {
		t.Fatalf("long keys: %q %q; want the same short hash", a.IdemKey, b.IdemKey)
	}
}

// A batch stops at MaxBatch events or at maxBatchBytes of payload, and takes
// only what is already queued.
func TestCollectBoundsABatch(t *testing.T) {
	in := &Ingester{reqs: make(chan *pending, 64)}
	queue := func(n, size int) {
		for i := 0; i < n; i++ {
			in.reqs <- &pending{req: Request{Payload: make([]byte, size)}}
		}
	}
	first := &pending{req: Request{Payload: []byte(`{}`)}}
	queue(40, 10)
	if got := len(in.collect(first, 16)); got != 16 {
		t.Fatalf("batch of %d; want MaxBatch 16", got)
	}
	if got := len(in.collect(first, 256)); got != 26 {
		t.Fatalf("batch of %d; want the first and the 25 still queued", got)
	}
	queue(20, 1<<20)
	if got := len(in.collect(first, 256)); got != 9 {
		t.Fatalf("batch of %d with 1 MiB bodies; want the first and 8 (8 MiB)", got)
	}
}

// With several committers, a batch for an ordered endpoint commits only
// after it is stamped: one stamped earlier but held up (here: in the clock)
// commits with a created_at later than the batch that committed meanwhile,
// so the endpoint's queue order is the commit order and a delivery never
// lands ahead of one already in flight.
func TestOrderedDeliveriesCommitInCreatedOrder(t *testing.T) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, storetest.URL(t, kind))
			router := rule.NewRouter()
			router.SetEndpoints([]rule.Endpoint{{ID: "ep_ordered", EventTypes: []string{"*"}, Ordered: true}})
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var calls atomic.Int64
			entered, release := make(chan struct{}), make(chan struct{})
			now := func() time.Time {
				n := calls.Add(1)
				if n == 1 { // the first batch is stamped, then held up
					close(entered)
					<-release
				}
				return base.Add(time.Duration(n) * time.Millisecond)
			}
			in := NewIngester(db, router, IngesterOptions{Committers: 2, Now: now})
			defer in.Close()
			type answer struct {
				res Result
				err error
			}
			ingest := func(key string) <-chan answer {
				c := make(chan answer, 1)
				go func() {
					res, err := in.Ingest(ctx, Request{Source: "s", Type: "t", IdemKey: key, Payload: []byte(`{}`)})
					c <- answer{res, err}
				}()
				return c
			}
			wait := func(c <-chan answer, what string) Result {
				select {
				case a := <-c:
					if a.err != nil {
						t.Fatalf("%s: %v", what, a.err)
					}
					return a.res
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: not committed in 10 s", what)
				}
				return Result{}
			}
			first := ingest("first")
			<-entered
			second := wait(ingest("second"), "second event (the first is held up)")
			close(release)
			held := wait(first, "first event")
			created := func(ev string) int64 {
				var us int64
				if err := db.QueryRow(ctx, "SELECT created_at FROM deliveries WHERE event_id = ?", ev).Scan(&us); err != nil {
					t.Fatalf("delivery of %s: %v", ev, err)
				}
				return us
			}
			if a, b := created(second.EventID), created(held.EventID); a >= b {
				t.Fatalf("the delivery committed first has created_at %d, the one committed after it %d: "+
					"the later commit would be the head of the ordered queue while the first may be in flight", a, b)
			}
		})
	}
}

// A batch waits briefly for more requests only while another batch is
// committing; with every committer idle it takes what is queued and goes.
func TestCollectWaitsOnlyWhileAnotherCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := &Ingester{reqs: make(chan *pending, 64)}
		req := func() *pending { return &pending{req: Request{Payload: []byte(`{}`)}, queued: time.Now()} }
		start := time.Now()
		if got := len(in.collect(req(), 16)); got != 1 || time.Since(start) != 0 {
			t.Fatalf("idle committers: batch of %d after %v; want 1 at once", got, time.Since(start))
		}
		in.committing.Add(1)
		go func() {
			time.Sleep(collectWait / 2)
			in.reqs <- req() // within the wait: joins the batch
			time.Sleep(collectWait)
			in.reqs <- req() // after it: the next batch's
		}()
		start = time.Now()
		if got := len(in.collect(req(), 16)); got != 2 || time.Since(start) != collectWait {
			t.Fatalf("another committing: batch of %d after %v; want 2 after %v", got, time.Since(start), collectWait)
		}
		time.Sleep(collectWait) // (the bubble's clock) past the late send
		synctest.Wait()
		if len(in.reqs) != 1 {
			t.Fatalf("%d requests left queued; want the late one", len(in.reqs))
		}
		<-in.reqs

		// The wait counts from when the first request was queued: one that
		// waited in the queue for a third of it is held two thirds more,
		// one that waited all of it is not held at all.
		early := req()
		time.Sleep(collectWait / 3)
		start = time.Now()
		if got := len(in.collect(early, 16)); got != 1 || time.Since(start) != collectWait-collectWait/3 {
			t.Fatalf("first queued %v ago: batch of %d after %v; want 1 after %v", collectWait/3, got, time.Since(start), collectWait-collectWait/3)
		}
		old := req()
		time.Sleep(collectWait)
		start = time.Now()
		if got := len(in.collect(old, 16)); got != 1 || time.Since(start) != 0 {
			t.Fatalf("first queued %v ago: batch of %d after %v; want 1 at once", collectWait, got, time.Since(start))
		}
	})
}

// Ingest after Close answers ErrClosed instead of queueing a request no
// committer will take (and waiting for it forever); the requests queued
// before Close are stored and answered.
func TestIngestAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := storetest.Open(t, storetest.URL(t, store.SQLite))
		in := NewIngester(db, nil, IngesterOptions{})
		res, err := in.Ingest(context.Background(), Request{Source: "s", Type: "t", Payload: []byte(`{"before":1}`)})
		if err != nil || res.EventID == "" {
			t.Fatalf("before Close: %+v %v", res, err)
		}
		in.Close()
		for i := 0; i < 100; i++ {
			_, err := in.Ingest(context.Background(), Request{Source: "s", Type: "t", Payload: []byte(fmt.Sprintf(`{"after":%d}`, i))})
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Ingest %d after Close: %v; want ErrClosed", i, err)
			}
		}
	})
}

// Requests repeating a key within one batch share one event: each gets its
// id, exactly one of them is not a duplicate, and one event is stored.
func TestRepeatedKeysInOneBatch(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URL(t, store.SQLite))
	var reqs []Request
	for i, k := range []string{"a", "b", "a", "c", "a", "b"} {
		reqs = append(reqs, Request{Source: "s", Type: "t", IdemKey: k, Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	var res []Result
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		res, _, err = IngestTx(ctx, tx, nil, time.Now(), reqs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]Result{}
	for i, r := range res {
		byKey[reqs[i].IdemKey] = append(byKey[reqs[i].IdemKey], r)
	}
	for k, rs := range byKey {
		firsts := 0
		for _, r := range rs {
			if r.EventID != rs[0].EventID {
				t.Fatalf("key %s: requests got events %s and %s", k, rs[0].EventID, r.EventID)
			}
			if !r.Duplicate {
				firsts++
			}
		}
		if firsts != 1 {
			t.Fatalf("key %s: %d of %d requests not duplicates, want 1: %+v", k, firsts, len(rs), rs)
		}
		if _, err := db.Event(ctx, rs[0].EventID); err != nil {
			t.Fatalf("key %s: event %s not stored: %v", k, rs[0].EventID, err)
		}
	}
	if n, err := db.CountEvents(ctx); err != nil || n != 3 {
		t.Fatalf("%d events stored, want 3 (a, b, c): %v", n, err)
	}
}
