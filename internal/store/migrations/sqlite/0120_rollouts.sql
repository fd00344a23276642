-- One rollout of a release commit to every instance of a repository's
-- fleet: the plan it froze when it began (instances, canaries, wave size,
-- failure share, branch patterns, as JSON), whether it runs, stopped or
-- finished, its hoist/fleet check run, and a version bumped at every change
-- so the check run is rewritten only when something changed. One per
-- release commit: a redelivered push starts nothing twice.
CREATE TABLE rollouts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repo           TEXT NOT NULL,
    installation   BIGINT NOT NULL,
    release        TEXT NOT NULL,            -- the pushed ref: refs/heads/release, refs/tags/v2
    sha            TEXT NOT NULL,
    plan           TEXT NOT NULL,
    state          TEXT NOT NULL,            -- running, stopped, finished
    reason         TEXT NOT NULL DEFAULT '',
    actor          TEXT NOT NULL DEFAULT '',
    check_run_id   BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL DEFAULT 0,
    reported       BIGINT NOT NULL DEFAULT -1, -- the version the check run shows
    reported_at    TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (repo, sha)
);
CREATE INDEX rollouts_repo ON rollouts (repo, id);

-- Each instance of a rollout: its wave, the stage it is at (dev, then
-- prod), its state and why it failed, its link and screenshot, and the
-- attempt (a retry starts a new one; jobs of an older attempt do nothing).
CREATE TABLE rollout_instances (
    rollout_id  BIGINT NOT NULL,
    instance    TEXT NOT NULL,
    wave        INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    state       TEXT NOT NULL,               -- pending, running, upgraded, failed, skipped
    reason      TEXT NOT NULL DEFAULT '',
    link        TEXT NOT NULL DEFAULT '',
    screenshot  TEXT NOT NULL DEFAULT '',
    attempt     INTEGER NOT NULL DEFAULT 0,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (rollout_id, instance)
);
