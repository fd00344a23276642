-- A redelivery that GitHub refused, or that it accepted but whose new
-- attempt failed too, is asked again, a bounded number of times: tries
-- counts the requests made, retry_at is when the next may be made if the
-- delivery is still missing (NULL: never, as for rows from before),
-- last_error why the last request failed (empty: GitHub accepted it), and
-- gave_up_at when hoist stopped asking.
ALTER TABLE redelivery_requests ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE redelivery_requests ADD COLUMN retry_at TIMESTAMPTZ;
ALTER TABLE redelivery_requests ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE redelivery_requests ADD COLUMN gave_up_at TIMESTAMPTZ;
