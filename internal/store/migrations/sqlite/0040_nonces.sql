-- Nonces of signed requests (the generation trigger), kept while their
-- timestamp is acceptable so that a replayed request is refused. The key is
-- unique across replicas sharing the database.
CREATE TABLE nonces (
    scope      TEXT NOT NULL, -- what signed it, e.g. generate:owner/name
    nonce      TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

-- Retention deletes by age.
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX deliveries_received ON deliveries (received_at);
CREATE INDEX command_runs_created ON command_runs (created_at);
CREATE INDEX smoke_runs_updated ON smoke_runs (updated_at);
