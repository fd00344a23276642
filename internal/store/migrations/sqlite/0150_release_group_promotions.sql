-- A promotion of a release group moves several repositories' branches, one
-- GitHub write each. Its record says which moved, so that a crash at any
-- point is finished after restart: moved forward when every member moved
-- or can still move, moved back otherwise; never left half-promoted.
CREATE TABLE release_group_promotions (
    id          TEXT PRIMARY KEY, -- names the promotion (and its deployments)
    grp         TEXT NOT NULL,    -- the group's name
    env         TEXT NOT NULL,
    -- evaluating, moving, publishing, rolling_back: unfinished;
    -- done, refused, failed: finished
    phase       TEXT NOT NULL,
    members     TEXT NOT NULL,    -- each member's plan and state, as JSON
    reason      TEXT NOT NULL,    -- why it was refused or failed, for people
    created_at  INTEGER NOT NULL, -- unix milliseconds
    updated_at  INTEGER NOT NULL
);
CREATE INDEX release_group_promotions_group ON release_group_promotions (grp, env, updated_at);
