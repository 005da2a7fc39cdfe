-- Claims walk waiting deliveries in due order; this partial index serves
-- that order directly instead of sorting every waiting row on each claim.
CREATE INDEX deliveries_waiting ON deliveries (next_attempt_at) WHERE state IN ('pending','failed','running');
