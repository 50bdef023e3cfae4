-- The audit hook is durable (delivered at least once through the outbox): each row records
-- the event it came from, and a redelivery of the same event writes nothing.
ALTER TABLE audit_log ADD COLUMN event_id TEXT;
CREATE UNIQUE INDEX audit_log_event_id ON audit_log (event_id);
