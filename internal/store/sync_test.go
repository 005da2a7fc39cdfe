package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSyncLinksAndCursors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		l := SyncLink{ID: "sl1", Pair: "p", LocalSystem: "odoo", LocalModel: "project.task", LocalID: "7",
			RemoteSystem: "fb", RemoteType: "card", RemoteID: "c1", State: SyncSynced, Direction: "both", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateSyncLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		dup := l
		dup.ID = "sl2"
		if err := db.CreateSyncLink(ctx, dup); !errors.Is(err, ErrConflict) {
			t.Fatalf("second link of the same pair: %v, want ErrConflict", err)
		}
		l.State, l.LastError, l.LastSyncedAt = SyncConflict, "both changed", now
		if err := db.UpdateSyncLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		got, err := db.ListSyncLinks(ctx, SyncLinkFilter{State: SyncConflict})
		if err != nil || len(got) != 1 || got[0].LastError != "both changed" || !got[0].LastSyncedAt.Equal(now) {
			t.Fatalf("list conflict: %+v %v", got, err)
		}
		counts, err := db.SyncLinkCounts(ctx)
		if err != nil || counts[SyncConflict] != 1 {
			t.Fatalf("counts %v %v", counts, err)
		}
		err = db.InTx(ctx, func(tx *Tx) error {
			if err := tx.SetSyncCursor(ctx, "w", "a", now); err != nil {
				return err
			}
			if err := tx.SetSyncCursor(ctx, "w", "b", now); err != nil {
				return err
			}
			if err := tx.AddSeen(ctx, "w", []int64{3, 1, 2}); err != nil {
				return err
			}
			if err := tx.AddSeen(ctx, "w", []int64{2}); err != nil {
				return err
			}
			return tx.RemoveSeen(ctx, "w", []int64{1})
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := db.SyncCursor(ctx, "w"); v != "b" {
			t.Fatalf("cursor %q", v)
		}
		if ids, _ := db.Seen(ctx, "w"); len(ids) != 2 || ids[0] != 2 || ids[1] != 3 {
			t.Fatalf("seen %v", ids)
		}
		if err := db.DeleteSyncLink(ctx, "sl1"); err != nil {
			t.Fatal(err)
		}
	})
}
