package audit

import (
	"context"
	"path/filepath"
	"testing"
)

// WriteAll commits its entries, in order, in the one chain.
func TestWriteAllKeepsOrderAndChain(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "a.db"))
	l := New(db)
	defer l.Close()
	ctx := context.Background()
	if err := l.Write(ctx, Entry{Action: "first"}); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteAll(ctx, []Entry{{Action: "a"}, {Action: "b"}, {Action: "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteAll(ctx, []Entry{{Action: "ok"}, {}}); err == nil {
		t.Fatal("an entry without action was accepted")
	}
	rep := mustVerify(t, db)
	if rep.Entries != 4 || rep.HeadSeq != 4 {
		t.Fatalf("report %+v; want 4 entries ending at seq 4", rep)
	}
	head, err := db.AuditHead(ctx)
	if err != nil || head.Action != "c" {
		t.Fatalf("head = %+v %v; want c", head, err)
	}
}
