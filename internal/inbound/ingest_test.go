package inbound

import (
	"context"
	"fmt"
	"testing"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// A request the database refuses fails alone: the others of its batch are
// stored and answered. (Ingest refuses such text before it reaches a batch;
// this is the guard behind that check. PostgreSQL is the backend that
// refuses text: SQLite stores any bytes.)
func TestRefusedRequestDoesNotFailItsBatch(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testpg.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	in := NewIngester(db, nil, IngesterOptions{})
	defer in.Close()
	var batch []*pending
	for i := 0; i < 8; i++ {
		r := Request{Source: "s", Type: "t", IdemKey: fmt.Sprint("k", i), Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))}
		batch = append(batch, &pending{req: r, err: make(chan error, 1)})
	}
	bad := &pending{req: Request{Source: "s", Type: "t", IdemKey: "bad", Payload: []byte("{\"x\":\"\xff\"}")}, err: make(chan error, 1)}
	if bad.req.check() == nil {
		t.Fatal("Ingest's check lets invalid UTF-8 through")
	}
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
