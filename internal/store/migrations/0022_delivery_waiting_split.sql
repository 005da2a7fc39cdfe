-- Claims walk unordered and ordered waiting deliveries separately, each in
-- due order; one partial index each keeps either walk from stepping over the
-- other's rows (a large backlog of an ordered endpoint no longer slows the
-- claims of every other delivery, and the reverse).
DROP INDEX deliveries_waiting;
CREATE INDEX deliveries_waiting ON deliveries (next_attempt_at)
	WHERE state IN ('pending','failed','running') AND ordered_key IS NULL;
CREATE INDEX deliveries_waiting_ordered ON deliveries (next_attempt_at)
	WHERE state IN ('pending','failed','running') AND ordered_key IS NOT NULL;
