package boardsync

import (
	"context"
	"fmt"
	"strconv"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/store"
)

// Focalboard has no webhooks and its card list does not filter by time, so
// a pair keeps the board's highest updateAt seen (cards and their text
// blocks) as a cursor in sync_cursors ("board:<pair>"). Between full
// sweeps a linked card is compared only when it was updated after the
// cursor, or its task's write_date moved, or the task's mapped fields (read
// every round anyway) differ from the link's snapshot; otherwise it is
// skipped without reading its fields. The last matters because Odoo's
// write_date has whole seconds: a task edited again in the second the last
// round read it keeps its write_date (seen with a real Odoo 18 and 19).
// Deletions are still seen every round (a linked card missing from the
// list, a task missing or archived). Every FullSweepEvery rounds (and when
// there is no cursor yet) every link is compared, which also catches what
// the cursor cannot see: an edit in the same millisecond as the cursor, a
// removed text block.

func boardCursorName(pair string) string { return "board:" + pair }

// cardVersion is the latest updateAt of a card and its text content.
func cardVersion(pr *props, c focalboard.Card) int64 {
	v := c.UpdateAt
	for _, b := range pr.texts[c.ID] {
		v = max(v, b.UpdateAt)
	}
	return v
}

// boardMax is the highest updateAt of the listed cards and text blocks.
func boardMax(pr *props, cards []focalboard.Card) int64 {
	var m int64
	for _, c := range cards {
		m = max(m, c.UpdateAt)
	}
	for _, bs := range pr.texts {
		for _, b := range bs {
			m = max(m, b.UpdateAt)
		}
	}
	return m
}

// roundCursor returns the board cursor and whether this round is a full sweep.
func (p *Pair) roundCursor(ctx context.Context) (int64, bool, error) {
	n := p.rounds.Add(1)
	every := int64(p.FullSweepEvery)
	if every <= 0 {
		every = 10
	}
	v, err := p.DB.SyncCursor(ctx, boardCursorName(p.Name))
	if err != nil {
		return 0, true, fmt.Errorf("read board cursor of %s: %w", p.Name, err)
	}
	cur, _ := strconv.ParseInt(v, 10, 64)
	return cur, cur == 0 || (n-1)%every == 0, nil
}

// unchanged says whether a link can be skipped this round.
func unchanged(pr *props, l store.SyncLink, cursor int64, t task, tok bool, c focalboard.Card, cok bool) bool {
	return l.State == store.SyncSynced && tok && cok && t.Version != "" && t.Version == l.LocalVersion && cardVersion(pr, c) <= cursor &&
		snapshot(t.Fields) == l.Snapshot
}

func (p *Pair) saveCursor(ctx context.Context, old, now int64) error {
	if now <= old {
		return nil
	}
	return p.DB.InTx(ctx, func(tx *store.Tx) error {
		return tx.SetSyncCursor(ctx, boardCursorName(p.Name), strconv.FormatInt(now, 10), p.now())
	})
}
