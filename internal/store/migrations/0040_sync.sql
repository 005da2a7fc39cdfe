-- Sync links: one ERP record paired with one object in another system.
-- snapshot is the mapped fields as they were at the last sync (JSON); a side
-- whose mapped fields differ from it has changed since.
CREATE TABLE sync_links (
	id TEXT PRIMARY KEY,
	pair TEXT NOT NULL DEFAULT '',
	local_system TEXT NOT NULL,
	local_model TEXT NOT NULL,
	local_id TEXT NOT NULL,
	remote_system TEXT NOT NULL,
	remote_type TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	state TEXT NOT NULL,
	direction TEXT NOT NULL,
	last_synced_at BIGINT NOT NULL DEFAULT 0,
	local_version TEXT NOT NULL DEFAULT '',
	remote_version TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '',
	snapshot TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sync_links_local ON sync_links (local_system, local_model, local_id, remote_system, remote_type);
CREATE UNIQUE INDEX sync_links_remote ON sync_links (remote_system, remote_type, remote_id);
CREATE INDEX sync_links_state ON sync_links (state, updated_at);

-- Change-capture cursors (committed with the events they produced).
CREATE TABLE sync_cursors (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);

-- Record ids a watcher has seen, for the deletion sweep.
CREATE TABLE sync_seen (
	watcher TEXT NOT NULL,
	record_id BIGINT NOT NULL,
	PRIMARY KEY (watcher, record_id)
);
