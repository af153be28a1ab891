-- Weekly results per shop, drawn on /app: how many review requests were
-- sent, skipped (by reason) or failed, and how many review-link clicks,
-- unsubscribes, bounces and spam reports there were. Counts only: no
-- customer, address, order or request ID. The rows review_requests and
-- suppressions hold are deleted by retention and erasure, so figures that
-- must outlive them are counted here, in the transaction that applies each
-- event (store/results.go). A week is the ISO week in UTC, named by its
-- Monday.
CREATE TABLE shop_weekly_results (
    shop   text NOT NULL REFERENCES shops (domain) ON DELETE CASCADE,
    week   date NOT NULL CHECK (extract(isodow FROM week) = 1),
    metric text NOT NULL CHECK (metric IN ('sent', 'skipped', 'failed', 'reminder_sent', 'click', 'unsubscribe', 'bounce', 'spam_report')),
    -- A reason code (review.Reason, or an activity error type) for skipped
    -- and failed; '' otherwise. Never free text.
    reason text NOT NULL DEFAULT '' CHECK (reason ~ '^[A-Za-z0-9_]{0,64}$' AND (reason = '' OR metric IN ('skipped', 'failed'))),
    n      bigint NOT NULL CHECK (n > 0),
    PRIMARY KEY (shop, week, metric, reason)
);
