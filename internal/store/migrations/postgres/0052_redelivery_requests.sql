-- Failed webhook deliveries hoist asked GitHub to redeliver, by GUID (the
-- X-GitHub-Delivery id), so that each is asked for once whichever replica
-- or command finds it. A row not yet asked (asked_at NULL) is a claim
-- with a lease: one left by a process that died is taken over once
-- claimed_at is older than the lease.
CREATE TABLE redelivery_requests (
    guid       TEXT PRIMARY KEY,
    attempt_id BIGINT NOT NULL,       -- the delivery log entry redelivered
    event      TEXT NOT NULL DEFAULT '',
    claimed_at TIMESTAMPTZ NOT NULL,
    asked_at   TIMESTAMPTZ            -- NULL while claimed
);
CREATE INDEX redelivery_requests_claimed ON redelivery_requests (claimed_at);
