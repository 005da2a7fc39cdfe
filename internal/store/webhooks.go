package store

import (
	"context"
	"time"
)

// Webhook directions and states.
const (
	Incoming = "incoming"
	Outgoing = "outgoing"

	WebhookActive   = "active"
	WebhookDisabled = "disabled"
)

// Webhook is an incoming hook or an outgoing endpoint. Spec holds the
// direction-specific settings as JSON (see package inbound and delivery).
type Webhook struct {
	ID              string
	Direction       string
	Name            string
	Connector       string
	State           string
	Managed         bool
	Spec            string
	SecretSealed    string
	OldSecretSealed string
	OldSecretUntil  time.Time
	FailingSince    time.Time
	DisabledReason  string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

const webhookCols = "id, direction, name, connector, state, managed, spec, secret_sealed, old_secret_sealed, old_secret_until, failing_since, disabled_reason, created_at, updated_at"

func scanWebhook(s scanner) (Webhook, error) {
	var w Webhook
	var oldUntil, failing, created, updated int64
	err := s.Scan(&w.ID, &w.Direction, &w.Name, &w.Connector, &w.State, &w.Managed, &w.Spec, &w.SecretSealed,
		&w.OldSecretSealed, &oldUntil, &failing, &w.DisabledReason, &created, &updated)
	w.OldSecretUntil, w.FailingSince, w.CreatedAt, w.UpdatedAt = Time(oldUntil), Time(failing), Time(created), Time(updated)
	return w, err
}

func webhookArgs(w Webhook) []any {
	return []any{w.ID, w.Direction, w.Name, w.Connector, w.State, w.Managed, w.Spec, w.SecretSealed, w.OldSecretSealed,
		Micros(w.OldSecretUntil), Micros(w.FailingSince), w.DisabledReason, Micros(w.CreatedAt), Micros(w.UpdatedAt)}
}

// CreateWebhook stores a new webhook; ErrConflict when the id exists.
func (db *DB) CreateWebhook(ctx context.Context, w Webhook) error {
	_, err := db.Exec(ctx, "INSERT INTO webhooks ("+webhookCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", webhookArgs(w)...)
	return err
}

// UpdateWebhook rewrites a webhook's row; ErrNotFound when missing.
func (db *DB) UpdateWebhook(ctx context.Context, w Webhook) error {
	a := webhookArgs(w)
	res, err := db.Exec(ctx, `UPDATE webhooks SET direction=?, name=?, connector=?, state=?, managed=?, spec=?, secret_sealed=?,
		old_secret_sealed=?, old_secret_until=?, failing_since=?, disabled_reason=?, updated_at=? WHERE id=?`,
		append(a[1:12], a[13], a[0])...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Webhook returns one webhook.
func (db *DB) Webhook(ctx context.Context, id string) (Webhook, error) {
	return scanWebhook(db.QueryRow(ctx, "SELECT "+webhookCols+" FROM webhooks WHERE id = ?", id))
}

// ListWebhooks returns the webhooks of a direction ("" for all), oldest first.
func (db *DB) ListWebhooks(ctx context.Context, direction string) ([]Webhook, error) {
	q, args := "SELECT "+webhookCols+" FROM webhooks", []any{}
	if direction != "" {
		q += " WHERE direction = ?"
		args = append(args, direction)
	}
	rows, err := db.Query(ctx, q+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook removes a webhook; ErrNotFound when missing.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	res, err := db.Exec(ctx, "DELETE FROM webhooks WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// MarkEndpointFailing records the start of a failing streak (kept if one is
// already running) and returns when the streak began.
func (db *DB) MarkEndpointFailing(ctx context.Context, id string, now time.Time) (time.Time, error) {
	if _, err := db.Exec(ctx, "UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since = 0", Micros(now), id); err != nil {
		return time.Time{}, err
	}
	var since int64
	err := db.QueryRow(ctx, "SELECT failing_since FROM webhooks WHERE id = ?", id).Scan(&since)
	return Time(since), err
}

// MarkEndpointHealthy ends a failing streak.
func (db *DB) MarkEndpointHealthy(ctx context.Context, id string) error {
	_, err := db.Exec(ctx, "UPDATE webhooks SET failing_since = 0 WHERE id = ? AND failing_since <> 0", id)
	return err
}

// SetWebhookState enables or disables a webhook with a reason; it reports
// whether the state changed.
func (db *DB) SetWebhookState(ctx context.Context, id, state, reason string, now time.Time) (bool, error) {
	res, err := db.Exec(ctx, "UPDATE webhooks SET state = ?, disabled_reason = ?, failing_since = 0, updated_at = ? WHERE id = ? AND state <> ?",
		state, reason, Micros(now), id, state)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
