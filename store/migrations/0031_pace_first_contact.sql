-- A bucket's first use holds only the first call's cost, not a full
-- bucket. Candor cannot know how much of a shop's Shopify bucket is spent
-- when it first paces that shop (the install's own reads, the merchant
-- pages' reads and calls made before this database are not counted), and
-- a full bucket at first contact let every worker's first call go at once,
-- over what Shopify had left: THROTTLED. From the first call on, the
-- bucket refills at its rate and Shopify's reports (pacing.Observe) lower
-- it to what Shopify says is there.
CREATE OR REPLACE FUNCTION pace_take(k text, cap double precision, r double precision, cost double precision)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    avail double precision;
    need  double precision;
    per_s double precision;
BEGIN
    INSERT INTO rate_buckets (key, available, capacity, rate, at) VALUES (k, LEAST(cost, cap), cap, r, clock_timestamp())
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
