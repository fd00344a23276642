-- The instances of a repository's fleet (docs/fleet.md). Settings live
-- here, not in git; every change is kept in fleet_settings so that a change
-- can be rolled back and audited.
CREATE TABLE fleet_instances (
    repo             TEXT NOT NULL, -- owner/name
    name             TEXT NOT NULL, -- a DNS label, unique per repository
    plan             TEXT NOT NULL, -- trial | paid
    expires_at       BIGINT,        -- unix milliseconds; trials only
    warned_at        BIGINT,        -- when the end of the trial was announced
    -- launching | live | failed | suspended | deleted
    state            TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '', -- why the last step failed, or why suspended
    settings         TEXT NOT NULL, -- the current settings, as JSON
    settings_version INTEGER NOT NULL, -- fleet_settings.version of settings
    version          TEXT NOT NULL DEFAULT '', -- the release ref the instance runs
    sha              TEXT NOT NULL DEFAULT '', -- the commit of that release
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT,        -- set by delete; data purged after the grace period
    PRIMARY KEY (repo, name)
);

-- Every settings document an instance had, oldest first.
CREATE TABLE fleet_settings (
    repo       TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    settings   TEXT NOT NULL, -- JSON
    changed_by TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '', -- e.g. launch, rollback of 3
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (repo, name, version)
);

-- The steps of a launch that are done: a resumed launch skips them, so
-- nothing is done twice.
CREATE TABLE fleet_launch_steps (
    repo    TEXT NOT NULL,
    name    TEXT NOT NULL,
    step    TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '', -- what the step made (a SHA, a record id), as JSON
    done_at BIGINT NOT NULL,
    PRIMARY KEY (repo, name, step)
);
