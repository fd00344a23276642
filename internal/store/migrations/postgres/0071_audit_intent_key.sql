-- The intent an audit entry records, for entries a retried job would
-- otherwise write twice (e.g. "rollback:<comment>:<line>"): unique, so the
-- retry's insert is a no-op. NULL (most entries) never conflicts.
ALTER TABLE audit_log ADD COLUMN intent_key TEXT;
CREATE UNIQUE INDEX audit_log_intent_key ON audit_log (intent_key);
