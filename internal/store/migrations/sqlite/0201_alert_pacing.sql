-- Alert pacing shared by every replica: one row per alert key (kind,
-- repository, environment) with when it was last sent and how many were
-- held back since. A replica sends only after claiming the row with a
-- conditional update, so N replicas send one alert per pace.
CREATE TABLE alert_pacing (
    alert_key TEXT PRIMARY KEY,
    last_sent INTEGER NOT NULL,        -- unix milliseconds
    dropped   INTEGER NOT NULL DEFAULT 0
);
