-- One row per repository environment that hoist publishes: the newest
-- deployment asked for (older ones are superseded, never deployed after
-- it) and the lease of the one publish job that may run for it now.
CREATE TABLE publish_envs (
    repo        TEXT NOT NULL,
    env         TEXT NOT NULL,
    latest      INTEGER NOT NULL DEFAULT 0, -- GitHub deployment id
    holder      TEXT NOT NULL DEFAULT '',   -- job holding the lease, '' when free
    lease_until INTEGER NOT NULL DEFAULT 0, -- unix milliseconds
    -- a purge that failed after its deploy, as JSON; the next publish of
    -- the environment sends it again (a retry deploys the same tree).
    pending_purge TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo, env)
);
