-- Post-deploy verification: one row per deployment of a verified
-- environment, the check of its live site and its outcome. incident names
-- the automatic rollback whose result this deployment is (0: none).
CREATE TABLE verify_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repo           TEXT NOT NULL,
    env            TEXT NOT NULL,
    deployment     INTEGER NOT NULL,
    sha            TEXT NOT NULL,
    url            TEXT NOT NULL DEFAULT '',
    incident       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL,            -- queued, completed, superseded
    conclusion     TEXT NOT NULL DEFAULT '', -- success, failure
    reason         TEXT NOT NULL DEFAULT '',
    check_run_id   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,            -- unix milliseconds
    completed_at   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (repo, env, deployment)
);
CREATE INDEX verify_runs_env ON verify_runs (repo, env, id);

-- An automatic rollback: a verification of bad_sha failed, and the
-- environment goes back to the tree of good_sha as the new commit
-- rollback_sha on its branch. stage says how far it got, so a restart
-- carries on: planned, committed, moved, published, then restored,
-- failed (the rollback did not verify either), superseded (the branch
-- moved on by a push, which is verified for itself) or stuck (nothing
-- verified to go back to).
CREATE TABLE verify_incidents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repo           TEXT NOT NULL,
    env            TEXT NOT NULL,
    bad_sha        TEXT NOT NULL,
    bad_deployment INTEGER NOT NULL,
    good_sha       TEXT NOT NULL DEFAULT '',
    rollback_sha   TEXT NOT NULL DEFAULT '',
    stage          TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    commented      INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (repo, env, bad_deployment)
);
CREATE INDEX verify_incidents_env ON verify_incidents (repo, env, id);
