-- One row per approval request (its signed nonce, shared by the Approve and
-- Reject buttons of one post): a click claims it before calling Odoo, so a
-- button works once, and a double click calls Odoo once. state is deciding
-- (claimed, Odoo being called), decided (op ran) or stale (the record had
-- left the state the buttons were posted for).
CREATE TABLE approval_uses (
	nonce TEXT PRIMARY KEY,
	post_id TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL,
	record_id BIGINT NOT NULL,
	op TEXT NOT NULL,
	state TEXT NOT NULL,
	actor TEXT NOT NULL,
	odoo_user TEXT NOT NULL DEFAULT '',
	message TEXT NOT NULL DEFAULT '',
	claimed_at BIGINT NOT NULL,
	decided_at BIGINT NOT NULL DEFAULT 0
);
