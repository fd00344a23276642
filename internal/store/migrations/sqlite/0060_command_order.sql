-- The commands of one pull request run in the order they were written, on
-- any number of replicas: one row per comment with commands, the job that
-- runs them, and whether that job has begun acting (claimed) or finished.
CREATE TABLE command_order (
    comment_id BIGINT PRIMARY KEY,
    repo       TEXT NOT NULL,
    number     INTEGER NOT NULL,
    job_id     BIGINT NOT NULL DEFAULT 0,
    listed_at  TIMESTAMP,          -- when its job looked for earlier comments on GitHub
    claimed_at TIMESTAMP,          -- when its job began acting
    done_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX command_order_pr ON command_order (repo, number);
CREATE INDEX command_order_created ON command_order (created_at);
