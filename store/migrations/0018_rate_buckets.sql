-- Budgets that every worker process shares (package pacing): one token
-- bucket per Shopify shop (its GraphQL query-cost points) and one for the
-- SendGrid account (its Mail Send calls). pace_take refills a bucket for
-- the time since its last use and takes a call's cost if the bucket holds
-- it, in one round trip under the row's lock, so any number of processes
-- keep, between them, to the rate Shopify or SendGrid allows.
CREATE TABLE rate_buckets (
    key       text PRIMARY KEY,
    available double precision NOT NULL,
    capacity  double precision NOT NULL CHECK (capacity > 0),
    rate      double precision NOT NULL CHECK (rate > 0),  -- per second
    at        timestamptz NOT NULL
);

-- pace_take answers 0 when it took cost from the bucket (made full with
-- capacity cap and rate r on first use), else the seconds until the bucket
-- would hold cost, taking nothing. A cost above the bucket's capacity
-- waits for a full bucket.
CREATE FUNCTION pace_take(k text, cap double precision, r double precision, cost double precision)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    avail double precision;
    need  double precision;
    per_s double precision;
BEGIN
    INSERT INTO rate_buckets (key, available, capacity, rate, at) VALUES (k, cap, cap, r, clock_timestamp())
    ON CONFLICT (key) DO NOTHING;
    UPDATE rate_buckets
    SET available = LEAST(capacity, available + rate * EXTRACT(EPOCH FROM clock_timestamp() - at)), at = clock_timestamp()
    WHERE key = k
    RETURNING available, LEAST(cost, capacity), rate INTO avail, need, per_s;
    IF avail >= need THEN
        UPDATE rate_buckets SET available = available - need WHERE key = k;
        RETURN 0;
    END IF;
    RETURN (need - avail) / per_s;
END $$;
