package event

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

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
