package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// CheckpointAction marks the entry a purge appends. It records which entries
// lost their predecessor to the purge, so the chain still verifies; purges
// never delete checkpoints.
const CheckpointAction = "audit.checkpoint"

type checkpointFields struct {
	Cutoff  time.Time `json:"cutoff"`
	Deleted int64     `json:"deleted"`
	// Gaps lists [seq, present predecessor seq] for every entry whose
	// previous entry is missing after the purge (predecessor 0: none).
	Gaps [][2]int64 `json:"gaps"`
}

// Problem describes the first entry that no longer matches.
type Problem struct {
	Seq    int64
	Action string
	At     time.Time
	Reason string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d (%s, %s): %s", p.Seq, p.Action, p.At.Format(time.RFC3339), p.Reason)
}

// Report is the result of Verify.
type Report struct {
	Entries  int64  `json:"entries"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"` // anchor it elsewhere to detect truncation
	Gaps     int    `json:"purged_gaps"`
	OK       bool   `json:"ok"`
	Problem  string `json:"problem,omitempty"`
	BadSeq   int64  `json:"bad_seq,omitempty"`
}

// Verify recomputes the whole chain. It returns a report and, when the chain
// does not verify, a *Problem naming the first entry that no longer matches.
func Verify(ctx context.Context, db *store.DB) (Report, error) {
	// Pass 1: the gaps purges legitimately left, from checkpoints whose own
	// hash is intact (a forged checkpoint fails pass 2 anyway).
	legit := map[int64]int64{} // gap seq -> the predecessor it bridges from
	err := db.ScanAudit(ctx, func(r store.AuditRow) error {
		if r.Action == CheckpointAction && Hash(&r) == r.Hash {
			var cf checkpointFields
			if json.Unmarshal([]byte(r.Fields), &cf) == nil {
				for _, g := range cf.Gaps {
					legit[g[0]] = g[1] // later checkpoints supersede earlier ones
				}
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var prob *Problem
	prev, prevSeq := "", int64(0)
	err = db.ScanAudit(ctx, func(r store.AuditRow) error {
		rep.Entries++
		if prob == nil {
			switch {
			case Hash(&r) != r.Hash:
				prob = &Problem{r.Seq, r.Action, r.At, "its hash does not match its content (the entry was edited)"}
			case r.PrevHash != prev:
				if from, ok := legit[r.Seq]; ok && from == prevSeq {
					rep.Gaps++
				} else if rep.Entries == 1 && r.PrevHash != "" {
					prob = &Problem{r.Seq, r.Action, r.At, "the entries before it are missing and no purge checkpoint records their removal"}
				} else {
					prob = &Problem{r.Seq, r.Action, r.At, "the entry before it is missing or was changed (its previous hash does not match)"}
				}
			}
		}
		prev, prevSeq = r.Hash, r.Seq
		rep.HeadSeq, rep.HeadHash = r.Seq, r.Hash
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	rep.OK = prob == nil
	if prob != nil {
		rep.Problem, rep.BadSeq = prob.Error(), prob.Seq
		return rep, prob
	}
	return rep, nil
}

// PurgeResult says what Purge did.
type PurgeResult struct {
	Deleted    int64 `json:"deleted"`
	Checkpoint int64 `json:"checkpoint_seq"`
}

// Purge deletes debug and info entries older than retention (warning and
// error are kept) and appends a checkpoint that keeps the chain verifiable.
// It refuses to purge a chain that does not verify, so a purge never
// launders tampering.
func Purge(ctx context.Context, db *store.DB, retention time.Duration, now time.Time) (PurgeResult, error) {
	if _, err := Verify(ctx, db); err != nil {
		return PurgeResult{}, fmt.Errorf("purge refused, evidence kept: %w", err)
	}
	cutoff := now.Add(-retention)
	var res PurgeResult
	var err error
	// A writer may take the checkpoint's seq first: then the whole purge
	// rolls back and runs again.
	for attempt := 0; attempt < 5; attempt++ {
		res, err = purgeOnce(ctx, db, cutoff, now)
		if !store.IsConflict(err) {
			break
		}
	}
	return res, err
}

func purgeOnce(ctx context.Context, db *store.DB, cutoff, now time.Time) (PurgeResult, error) {
	var res PurgeResult
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.LockAudit(ctx); err != nil {
			return err
		}
		n, err := tx.DeleteAudit(ctx, cutoff, []string{Debug, Info}, CheckpointAction)
		if err != nil || n == 0 {
			return err
		}
		res.Deleted = n
		// Record every entry whose predecessor is now missing.
		var gaps [][2]int64
		prev, prevSeq := "", int64(0)
		err = tx.ScanAudit(ctx, func(r store.AuditRow) error {
			if r.PrevHash != prev {
				gaps = append(gaps, [2]int64{r.Seq, prevSeq})
			}
			prev, prevSeq = r.Hash, r.Seq
			return nil
		})
		if err != nil {
			return err
		}
		b, _ := json.Marshal(checkpointFields{Cutoff: cutoff.UTC(), Deleted: n, Gaps: gaps})
		cp := &store.AuditRow{At: now, Actor: "system", Action: CheckpointAction, Level: Info,
			Message: fmt.Sprintf("retention purge removed %d debug/info entries older than %s", n, cutoff.UTC().Format(time.RFC3339)),
			Fields:  string(b)}
		if err := tx.AppendAudit(ctx, []*store.AuditRow{cp}, Seal); err != nil {
			return err
		}
		res.Checkpoint = cp.Seq
		return nil
	})
	return res, err
}
