-- The expiry index of the dedupe keys serves one statement, the hourly
-- DELETE ... WHERE expires_at <= now, and expires_at grows with the order
-- keys are written in (receipt time + the hook's window). A block-range
-- (BRIN) index answers that range scan and costs an insert almost nothing,
-- where the B-tree entry per key cost about a tenth of PostgreSQL's work
-- per ingested batch (measured with fsync on, batches of 13 events).
-- autosummarize keeps new ranges indexed between vacuums. events_received
-- stays a B-tree: the event purge takes the oldest 500 at a time, an
-- ordered scan BRIN cannot give. SQLite keeps its B-tree (it has no BRIN).
DROP INDEX event_keys_expires;
CREATE INDEX event_keys_expires ON event_keys USING brin (expires_at) WITH (autosummarize = on);
