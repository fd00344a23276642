-- One smoke test of one commit as a candidate for an environment: its
-- hoist/smoke check run, and the report behind the check run's details page.
-- token is the unguessable name of the public report page.
CREATE TABLE smoke_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token        TEXT NOT NULL UNIQUE,
    repo         TEXT NOT NULL,
    env          TEXT NOT NULL DEFAULT '',
    sha          TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '', -- push, command, rerun, rerequested, baseline
    actor        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,            -- queued, in_progress, completed
    conclusion   TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    check_run_id INTEGER NOT NULL DEFAULT 0,
    report       TEXT NOT NULL DEFAULT '', -- the smoke report as JSON
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX smoke_runs_sha ON smoke_runs (repo, sha, id);
CREATE INDEX smoke_runs_check ON smoke_runs (repo, check_run_id);
