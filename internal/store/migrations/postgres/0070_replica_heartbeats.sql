-- Replica liveness: every hoist serve process beats here every few
-- seconds under its job-queue client id. A job left running by a client
-- whose beat is older than jobs.heartbeat_grace, or that it took before
-- its current start (a restart under the same id), is handed back at once
-- instead of waiting for the queue's stuck-job rescuer.
CREATE TABLE replica_heartbeats (
    client_id  TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    beat_at    TIMESTAMPTZ NOT NULL
);
