-- Holds stop promotions into an environment until someone releases them or
-- they expire. A released hold is kept for the record.
CREATE TABLE holds (
    id          BIGSERIAL PRIMARY KEY,
    hold_key    TEXT NOT NULL UNIQUE, -- what asked for it, once (e.g. comment:<id>:<line>): a replay finds the same hold
    repo        TEXT NOT NULL,
    env         TEXT NOT NULL,
    held_by     TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    held_since  TIMESTAMPTZ NOT NULL,
    held_until  TIMESTAMPTZ,            -- NULL: until released
    released_at TIMESTAMPTZ,
    released_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX holds_open ON holds (repo, env, released_at);

-- One row per command line of a pull request comment, so that a comment is
-- acted on and answered once however often its webhook arrives.
CREATE TABLE command_runs (
    comment_id BIGINT NOT NULL,
    line       INTEGER NOT NULL,
    repo       TEXT NOT NULL,
    number     INTEGER NOT NULL DEFAULT 0,
    actor      TEXT NOT NULL DEFAULT '',
    command    TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL,              -- started, done
    outcome    TEXT NOT NULL DEFAULT '',   -- invalid, refused, failed, succeeded
    reply_id   BIGINT NOT NULL DEFAULT 0,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (comment_id, line)
);
CREATE INDEX command_runs_repo ON command_runs (repo, created_at);
