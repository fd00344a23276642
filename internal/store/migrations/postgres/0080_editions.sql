-- Editions of branches and pull requests: one row per branch (ref
-- "branch:<name>") or pull request ("pr:<number>") published under its own
-- folder of a target. The unique folder keeps two refs from ever sharing
-- (and overwriting) one edition's files.
CREATE TABLE editions (
    repo          TEXT NOT NULL,
    ref           TEXT NOT NULL,
    name          TEXT NOT NULL,
    target        TEXT NOT NULL,
    prefix        TEXT NOT NULL, -- the full folder on the target
    url           TEXT NOT NULL DEFAULT '',
    installation  BIGINT NOT NULL,
    sha           TEXT NOT NULL DEFAULT '',
    deployment    BIGINT NOT NULL DEFAULT 0, -- the GitHub deployment of its newest publish
    comment       BIGINT NOT NULL DEFAULT 0, -- the pull request comment with its URL
    remove_at     BIGINT NOT NULL DEFAULT 0, -- unix milliseconds; 0 while the ref exists
    remove_job    BIGINT NOT NULL DEFAULT 0, -- the job that removes it then
    -- a renamed edition's old folder, removed once the new one is out
    old_name      TEXT NOT NULL DEFAULT '',
    old_prefix    TEXT NOT NULL DEFAULT '',
    old_deployment BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL, -- unix milliseconds
    PRIMARY KEY (repo, ref)
);
CREATE UNIQUE INDEX editions_folder ON editions (target, prefix);
