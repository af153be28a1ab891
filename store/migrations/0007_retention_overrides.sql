-- Per-shop retention overrides: a shop's keep period for one policy key
-- (retention.Policies). The bounds are checked in code (retention.Check),
-- where the reasons are; the table only refuses nonsense. Goes with the shop.
CREATE TABLE retention_overrides (
    shop         text NOT NULL REFERENCES shops (domain) ON DELETE CASCADE,
    policy       text NOT NULL,
    keep_seconds bigint NOT NULL CHECK (keep_seconds > 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, policy)
);

-- When SendGrid was last asked to erase a sent request's recipient. The
-- partial index finds the requests whose SendGrid data is due for erasure
-- without touching the ones already done.
ALTER TABLE review_requests ADD COLUMN sendgrid_erased_at timestamptz;
CREATE INDEX review_requests_sendgrid_due ON review_requests ((coalesce(reminder_sent_at, sent_at)))
    WHERE sent_at IS NOT NULL AND sendgrid_erased_at IS NULL;

-- Evidence of each retention sweep, per policy: what was asked, how many
-- were deleted, how that was verified. Counts only, no shop or customer.
CREATE TABLE retention_receipts (
    run_id   text NOT NULL,
    policy   text NOT NULL,
    system   text NOT NULL,
    asked    text NOT NULL,
    deleted  bigint NOT NULL,
    verified text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, policy)
);
