-- Every webhook delivery hoist accepted, keyed by GitHub's delivery id so a
-- redelivery is recognised and handled only once.
CREATE TABLE deliveries (
    delivery_id     TEXT PRIMARY KEY,
    event           TEXT NOT NULL,
    action          TEXT NOT NULL DEFAULT '',
    installation_id BIGINT NOT NULL DEFAULT 0,
    repo            TEXT NOT NULL DEFAULT '',
    payload         BYTEA NOT NULL, -- the exact bytes GitHub signed
    status          TEXT NOT NULL,  -- queued, handled, failed, ignored
    reason          TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    received_at     TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_status ON deliveries (status, received_at);
CREATE INDEX deliveries_repo ON deliveries (repo, received_at);

-- Who did what, when, to which environment: promotions, deploys, commands.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    repo    TEXT NOT NULL DEFAULT '',
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    env     TEXT NOT NULL DEFAULT '',
    sha     TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    detail  JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_repo ON audit_log (repo, at);
