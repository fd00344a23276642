-- The last valid .github/hoist.yml of each repository: a broken push of the
-- file never replaces it, so promotions go on under the last good rules.
CREATE TABLE repo_configs (
    repo       TEXT PRIMARY KEY, -- owner/name
    sha        TEXT NOT NULL DEFAULT '', -- commit it was read at, when known
    content    BLOB NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
