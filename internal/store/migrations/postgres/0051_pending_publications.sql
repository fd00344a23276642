-- A promotion moves an environment's branch and then records (and deploys)
-- the move as a GitHub deployment: two writes. The intent is stored before
-- the first, so a retry after a failure between them (or a replica's
-- crash) completes what is pending instead of finding the branch up to
-- date and publishing nothing. One row per environment: its evaluations
-- and publications run one at a time.
CREATE TABLE pending_publications (
    repo        TEXT NOT NULL,
    env         TEXT NOT NULL,
    sha         TEXT NOT NULL,
    -- names the deployment in its payload, so a retry finds one already
    -- created instead of creating another
    intent      TEXT NOT NULL,
    -- moving: the branch may not have moved yet; moved: it has, and the
    -- promotion is audited
    stage       TEXT NOT NULL,
    publication TEXT NOT NULL, -- the publication, as JSON
    created_at  BIGINT NOT NULL, -- unix milliseconds
    PRIMARY KEY (repo, env)
);
