-- Screenshots (PNG, by SHA256) kept in the database: the shared store of
-- replicas on PostgreSQL when no s3 target is named for them, so that any
-- replica serves any screenshot. stored_at is when the bytes were last
-- stored (a run that takes the same screenshot renews it); retention
-- (retention.artifacts) deletes by it.
CREATE TABLE smoke_artifacts (
    sha       TEXT PRIMARY KEY,
    png       BYTEA NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX smoke_artifacts_stored_at ON smoke_artifacts (stored_at);
