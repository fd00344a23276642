-- Every outcome of a change on its way into an environment (a CI gate that
-- failed, a smoke test, a deploy, a verification, a rollback), one row per
-- fact: outcome_key names the fact once, so a retried job records nothing
-- twice. Failure budgets and the delivery measures read rolling windows of
-- these rows.
CREATE TABLE delivery_outcomes (
    id              BIGSERIAL PRIMARY KEY,
    outcome_key     TEXT NOT NULL UNIQUE,
    repo            TEXT NOT NULL,
    env             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    ok              INTEGER NOT NULL,   -- 1 succeeded, 0 failed
    sha             TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    at              TIMESTAMPTZ NOT NULL,
    first_commit_at TIMESTAMPTZ          -- a landed deploy: its oldest new commit, for lead time
);
CREATE INDEX delivery_outcomes_env_at ON delivery_outcomes (repo, env, at);
CREATE INDEX delivery_outcomes_at ON delivery_outcomes (at);
