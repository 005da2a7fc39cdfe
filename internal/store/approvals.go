package store

import (
	"context"
	"time"
)

// Approval use states.
const (
	ApprovalDeciding = "deciding"
	ApprovalDecided  = "decided"
	ApprovalStale    = "stale"
)

// ApprovalUse is the use of one approval request's buttons (keyed by the
// request's signed nonce).
type ApprovalUse struct {
	Nonce     string
	PostID    string
	Model     string
	RecordID  int64
	Op        string // approve | reject (the click that claimed it)
	State     string // deciding | decided | stale
	Actor     string // Mattermost username
	OdooUser  string
	Message   string
	ClaimedAt time.Time
	DecidedAt time.Time
}

const approvalUseCols = "nonce, post_id, model, record_id, op, state, actor, odoo_user, message, claimed_at, decided_at"

// ClaimApproval claims u.Nonce for one click: it inserts u (state
// deciding) unless the nonce is already used; a deciding claim older than
// staleBefore (a hub that died mid-call) is taken over. It returns whether
// this call won, and otherwise the use that holds the nonce. Of concurrent
// claims exactly one wins.
func (db *DB) ClaimApproval(ctx context.Context, u ApprovalUse, staleBefore time.Time) (bool, ApprovalUse, error) {
	res, err := db.Exec(ctx, "INSERT INTO approval_uses ("+approvalUseCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (nonce) DO UPDATE SET post_id = excluded.post_id, op = excluded.op, state = excluded.state,
		actor = excluded.actor, odoo_user = excluded.odoo_user, message = excluded.message, claimed_at = excluded.claimed_at,
		decided_at = 0
		WHERE approval_uses.state = 'deciding' AND approval_uses.claimed_at < ?`,
		u.Nonce, u.PostID, u.Model, u.RecordID, u.Op, ApprovalDeciding, u.Actor, u.OdooUser, u.Message, Micros(u.ClaimedAt), 0,
		Micros(staleBefore))
	if err != nil {
		return false, ApprovalUse{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, ApprovalUse{}, err
	} else if n == 1 {
		return true, ApprovalUse{}, nil
	}
	cur, err := db.ApprovalUse(ctx, u.Nonce)
	return false, cur, err
}

// ApprovalUse returns the use of a nonce (ErrNotFound when unused).
func (db *DB) ApprovalUse(ctx context.Context, nonce string) (ApprovalUse, error) {
	var u ApprovalUse
	var claimed, decided int64
	err := db.QueryRow(ctx, "SELECT "+approvalUseCols+" FROM approval_uses WHERE nonce = ?", nonce).Scan(&u.Nonce, &u.PostID,
		&u.Model, &u.RecordID, &u.Op, &u.State, &u.Actor, &u.OdooUser, &u.Message, &claimed, &decided)
	u.ClaimedAt, u.DecidedAt = Time(claimed), Time(decided)
	return u, err
}

// FinishApproval records the outcome of a claimed nonce (state decided or
// stale).
func (db *DB) FinishApproval(ctx context.Context, nonce, state, message string, at time.Time) error {
	_, err := db.Exec(ctx, "UPDATE approval_uses SET state = ?, message = ?, decided_at = ? WHERE nonce = ?",
		state, message, Micros(at), nonce)
	return err
}

// ReleaseApproval gives up a deciding claim (the Odoo call failed, so the
// buttons may be used again).
func (db *DB) ReleaseApproval(ctx context.Context, nonce string) error {
	_, err := db.Exec(ctx, "DELETE FROM approval_uses WHERE nonce = ? AND state = ?", nonce, ApprovalDeciding)
	return err
}
