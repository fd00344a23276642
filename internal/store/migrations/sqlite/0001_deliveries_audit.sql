-- Every webhook delivery hoist accepted, keyed by GitHub's delivery id so a
-- redelivery is recognised and handled only once.
CREATE TABLE deliveries (
    delivery_id     TEXT PRIMARY KEY,
    event           TEXT NOT NULL,
    action          TEXT NOT NULL DEFAULT '',
    installation_id INTEGER NOT NULL DEFAULT 0,
    repo            TEXT NOT NULL DEFAULT '',
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL, -- queued, handled, failed, ignored
    reason          TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    received_at     TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_status ON deliveries (status, received_at);
CREATE INDEX deliveries_repo ON deliveries (repo, received_at);

-- Who did what, when, to which environment: promotions, deploys, commands.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TIMESTAMP NOT NULL,
    repo    TEXT NOT NULL DEFAULT '',
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    env     TEXT NOT NULL DEFAULT '',
    sha     TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_repo ON audit_log (repo, at);
