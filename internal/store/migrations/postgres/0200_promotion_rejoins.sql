-- Commits hoist made to promote into an environment whose branch an
-- automatic rollback had left apart from its source: sha has the tree of
-- candidate and the parents (the branch head, candidate). A later
-- promotion recognises its own commits here, never by their message.
CREATE TABLE promotion_rejoins (
    repo       TEXT NOT NULL,
    env        TEXT NOT NULL,
    sha        TEXT NOT NULL,
    candidate  TEXT NOT NULL,
    created_at BIGINT NOT NULL,    -- unix milliseconds
    PRIMARY KEY (repo, env, sha)
);
